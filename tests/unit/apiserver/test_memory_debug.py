"""The server's memory hooks: tracemalloc snapshots and reports on SIGUSR2, allocator tuning."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tracemalloc
import types
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.validation import names
from kubelite.apiserver import memory


def test_tracing_frames_reads_the_variable() -> None:
    assert memory.tracing_frames({}) == 0
    assert memory.tracing_frames({"KUBELITE_TRACEMALLOC": "25"}) == 25
    with pytest.raises(ValueError, match="number of frames"):
        memory.tracing_frames({"KUBELITE_TRACEMALLOC": "yes"})


async def test_nothing_is_installed_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBELITE_TRACEMALLOC", raising=False)
    monkeypatch.delenv("KUBELITE_MEMORY_REPORT", raising=False)
    assert memory.start_tracing(tmp_path) is None
    assert not tracemalloc.is_tracing()


async def test_sigusr2_writes_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_TRACEMALLOC", "3")
    loop = asyncio.get_running_loop()
    try:
        writer = memory.start_tracing(tmp_path)
        assert writer is not None and tracemalloc.is_tracing()
        os.kill(os.getpid(), memory.SNAPSHOT_SIGNAL)
        path = tmp_path / "tracemalloc" / "1.snapshot"
        async with asyncio.timeout(10):
            while not path.exists():
                await asyncio.sleep(0.01)
        assert tracemalloc.Snapshot.load(str(path)).traceback_limit == 3
    finally:
        loop.remove_signal_handler(memory.SNAPSHOT_SIGNAL)
        tracemalloc.stop()


async def _report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> dict[str, Any]:
    """One report written as SIGUSR2 would have it written, with KUBELITE_MEMORY_REPORT=mode."""
    monkeypatch.delenv("KUBELITE_TRACEMALLOC", raising=False)
    monkeypatch.setenv("KUBELITE_MEMORY_REPORT", mode)
    loop = asyncio.get_running_loop()
    try:
        writer = memory.start_tracing(tmp_path)
        assert isinstance(writer, memory.ReportWriter)
        report: dict[str, Any] = json.loads(writer.write().read_text())
    finally:
        loop.remove_signal_handler(memory.SNAPSHOT_SIGNAL)
    return report


async def test_a_report_counts_objects_and_trims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await _report(tmp_path, monkeypatch, "1")
    assert report["rss"] > 0 and report["objects"] > 0
    assert report["trimmed"] is True  # glibc, as on Debian
    assert {row[0] for row in report["by_type"]} >= {"dict"}
    # Where the RSS is: the kernel's split, the small-object allocator's arenas and what
    # SQLite's allocator holds (an open database holds some).
    assert report["rss_parts"]["RssAnon"] > 0 and "RssFile" in report["rss_parts"]
    pymalloc = report["pymalloc"]
    assert pymalloc["arenas"] >= 1 and pymalloc["arenas_highwater"] >= pymalloc["arenas"]
    assert 0 < pymalloc["allocated_bytes"] <= pymalloc["total_bytes"]
    assert report["sqlite_bytes"] >= 0


async def test_a_clearing_report_empties_the_bounded_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert names.is_valid_label_value("filled-by-this-test") == []
    cached = memory.bounded_caches()["kubelite.api.validation.names._fits_label_value"]
    assert cached.cache_info().currsize > 0
    report = await _report(tmp_path, monkeypatch, "clear")
    # The fill before clearing is reported; the caches are empty after.
    assert report["caches"]["kubelite.api.validation.names._fits_label_value"] > 0
    assert cached.cache_info().currsize == 0
    assert report["rss_after_clearing"] > 0 and report["pymalloc_after_clearing"]["arenas"] >= 1


class _AnswersNothing:
    """As dnslib's QTYPE: every unknown attribute is an error that is not AttributeError."""

    def __getattr__(self, name: str) -> object:
        raise KeyError(name)


def test_bounded_caches_pass_over_objects_that_refuse_attribute_lookups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("kubelite.hostile_globals")
    module.QTYPE = _AnswersNothing()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    assert "kubelite.api.validation.names._fits_label_value" in memory.bounded_caches()


def test_sqlite_memory_counts_an_open_database() -> None:
    before = memory.sqlite_memory()
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (x)")
        connection.executemany("INSERT INTO t VALUES (?)", [(b"x" * 1000,)] * 200)
        assert memory.sqlite_memory() > before
    finally:
        connection.close()


async def test_tuning_can_be_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_MEMORY_TUNING", "0")
    assert memory.start_tuning() is None
    monkeypatch.delenv("KUBELITE_MEMORY_TUNING")
    task = memory.start_tuning()
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
