"""The test tree's own rules: shared helpers come from support, never from a conftest.

Several directories have a conftest.py; ``from conftest import`` gets whichever was imported
first, so a constant or helper two directories share lives in support.py.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_test_module_imports_from_a_conftest() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if re.search(r"^\s*(from conftest import|import conftest)", path.read_text(), re.M)
    ]
    assert offenders == []
