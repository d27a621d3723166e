"""What every long-running kubelite command does before its event loop starts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Coroutine
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Young-generation threshold of the cyclic garbage collector. Python's 700 makes a LIST or a watch
# burst of ten thousand pods (a million short-lived dicts) trigger hundreds of collections, each
# scanning every live object (the informer caches of a scheduler hold every pod and node);
# components allocate in bursts, so collect less often.
GC_THRESHOLDS = (20_000, 20, 20)


def run_service(
    main: Coroutine[Any, Any, Any], *, verbose: bool = False, fast_loop: bool = True
) -> None:
    """Log to stderr, use uvloop when it is installed and `fast_loop` (a faster event loop for
    servers that spend their time in I/O callbacks), and run `main` until it returns."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)
    gc.set_threshold(*GC_THRESHOLDS)
    if fast_loop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    asyncio.run(main)
