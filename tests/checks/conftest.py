"""Fixtures for tests/checks; they live in checks_support.py."""

from checks_support import bare_python, fresh_shop, prometheus, revisions_prometheus, shops

__all__ = ["bare_python", "fresh_shop", "prometheus", "revisions_prometheus", "shops"]
