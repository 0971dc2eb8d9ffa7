"""Recoop: community recycling collection over SMS and mobile money."""

__version__ = "0.1.0"
