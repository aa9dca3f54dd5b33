"""Defaults that the CLI's --help shows, kept free of heavy imports (every probe Job starts the CLI)."""

from typing import Final

RUNNER_IMAGE: Final = "ghcr.io/releaseguard/releaseguard:0.1.0"
