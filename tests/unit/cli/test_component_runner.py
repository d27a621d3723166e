"""How the long-running commands are run (`cli/cluster/service.py`): exit codes, the errors a user
can fix, and SIGINT/SIGTERM ending a component cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from typing import Any

import pytest

from kubelite.cli.cluster import service
from kubelite.client.kubeconfig import ConfigError


@pytest.fixture(autouse=True)
def plain_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_service without its process-wide settings (uvloop, logging, gc thresholds)."""

    def run(main: Coroutine[Any, Any, Any], **_: bool) -> None:
        asyncio.run(main)

    monkeypatch.setattr(service, "run_service", run)


async def _fails(error: Exception) -> None:
    raise error


async def _returns() -> None:
    return None


def test_a_component_that_returns_exits_0() -> None:
    assert service.run_component(_returns()) == 0


def test_a_kubeconfig_error_is_reported_with_exit_code_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert service.run_component(_fails(ConfigError("no kubeconfig"))) == 1
    assert capsys.readouterr().err == "error: no kubeconfig\n"


def test_only_the_errors_named_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        service.run_component(_fails(PermissionError("denied")), fails_on=(PermissionError,)) == 1
    )
    assert capsys.readouterr().err == "error: denied\n"
    # A bug keeps its traceback.
    with pytest.raises(ConfigError):
        service.run_component(_fails(ConfigError("x")), fails_on=(PermissionError,))


def test_a_flag_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert service.flag_error("--port 70000 is not a port") == 2
    assert capsys.readouterr().err == "error: --port 70000 is not a port\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_cancels_the_component_and_returns(sig: signal.Signals) -> None:
    cleaned: list[str] = []

    async def component() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("cleaned up")

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), sig)
        await service.run_until_signalled(component(), "component")

    asyncio.run(main())
    assert cleaned == ["cleaned up"]


def test_a_signal_sets_the_stop_event() -> None:
    async def main() -> bool:
        stop = service.stop_on_signals()
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
        return stop.is_set()

    assert asyncio.run(main())
