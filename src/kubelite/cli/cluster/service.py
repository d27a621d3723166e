"""What every long-running kubelite command does around its event loop: how the loop starts,
how a signal ends the component, and how a failure to start becomes the command's exit code.

The commands (`server`, `agent`, `control-plane`, `scheduler`, `proxy`, `cluster-dns`,
`hollow-nodes`) differ in what they run, not in how they are run: one place for the latter keeps
them answering SIGINT and SIGTERM, and reporting a bad kubeconfig, the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from kubelite.client.kubeconfig import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Young-generation threshold of the cyclic garbage collector. Python's 700 makes a LIST or a watch
# burst of ten thousand pods (a million short-lived dicts) trigger hundreds of collections, each
# scanning every live object (the informer caches of a scheduler hold every pod and node);
# components allocate in bursts, so collect less often.
GC_THRESHOLDS = (20_000, 20, 20)

# The signals that end a component cleanly (Ctrl-C, and what `kubelite stop`, systemd and a
# parent server send).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def run_component(
    main: Coroutine[Any, Any, Any],
    *,
    fails_on: tuple[type[Exception], ...] = (ConfigError,),
    verbose: bool = False,
    fast_loop: bool = True,
) -> int:
    """`run_service(main)` as a command's exit code: 0 when `main` returns, 1 with `error: ...`
    on stderr when it raises one of `fails_on` (what a user can fix: a kubeconfig that cannot be
    read, by default). Other exceptions are bugs and propagate with their traceback."""
    try:
        run_service(main, verbose=verbose, fast_loop=fast_loop)
    except fails_on as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def flag_error(message: str) -> int:
    """Report a flag value the command cannot use, before anything starts: the exit code 2
    that argparse gives for the flags it checks itself."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets, for a component that tears several parts down in
    order once asked to stop. Call it inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_until_signalled(main: Coroutine[Any, Any, None], name: str) -> None:
    """Run `main` as a task named `name` until it returns or SIGINT or SIGTERM cancels it; the
    cancellation is the normal way out, so it is not raised. `main` cleans up as it is
    cancelled (its `finally` and `async with` blocks)."""
    task = asyncio.create_task(main, name=name)
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
