"""What every long-running kubelite command does before its event loop starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_service(main: Coroutine[Any, Any, Any], *, verbose: bool = False) -> None:
    """Log to stderr, use uvloop when it is installed (a faster event loop for servers that
    spend their time in I/O callbacks), and run `main` until it returns."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main)
