"""Reproducible scripts that make models: architecture exports and the demo model."""
