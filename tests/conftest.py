"""Puts tests/ on sys.path (pytest does so for a conftest's folder) so every test folder can
`from system_tools import require_tool`."""
