"""What every ``handrehab`` command shares: the stderr console and the exit-2 error contract."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err = Console(stderr=True)
# How long a command keeps retrying a database locked by another program: someone is waiting at the terminal.
STORE_RETRY_S = 5.0


def fail(message: str) -> NoReturn:
    """One line on stderr starting ``error:``, exit code 2, no traceback."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)
