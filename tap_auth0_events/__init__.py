"""tap-auth0-events: a Singer tap for Auth0's Events API."""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
