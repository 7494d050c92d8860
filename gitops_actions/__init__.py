"""gitops-actions: the CI half of GitOps, as reusable pipeline steps."""

__version__ = "0.1.0"
