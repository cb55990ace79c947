"""Pipeline YAML files shipped with pyml (installed as the package `pyml.configs`)."""
