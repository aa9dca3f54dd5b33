"""Fixtures for the operator's integration tests; they and the helpers live in rg_harness (a
uniquely named module, so `from rg_harness import ...` never meets another folder's conftest)."""

from rg_harness import cluster, operator, sim

__all__ = ["cluster", "operator", "sim"]
