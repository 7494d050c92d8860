import sys

from gitops_actions.cli import main

sys.exit(main())
