"""Offline validation of Kubernetes manifests: schemas, CRDs, duplicates, removed APIs.

The engine is pure: it reads files (and renders kustomizations and charts through the one
subprocess chokepoint) and returns findings. Reporting them is ``report``'s job, and the
step in ``gitops_actions.steps.validate`` is the thin edge that ties the two together.
"""
