"""Helpers every test folder shares (tests/ is on pytest's `pythonpath`, see pyproject.toml)."""
