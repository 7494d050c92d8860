"""The one YAML reading of the project: every reader (validate, diff, bump, the in-process
kustomize build) reads YAML through ``loader`` (values) or ``compose`` (nodes)."""
