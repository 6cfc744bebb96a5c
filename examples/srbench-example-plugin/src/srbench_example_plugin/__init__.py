"""A minimal srbench model plugin: ``example-bilinear``."""

__all__ = ["adapter"]
