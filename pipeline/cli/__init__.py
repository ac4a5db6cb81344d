"""The command line (`docqa`): parses, calls the core, displays; no rules of its own."""

from pipeline.cli.main import cli, main

__all__ = ["cli", "main"]
