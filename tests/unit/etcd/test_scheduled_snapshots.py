"""Scheduled etcd snapshots as k3s takes them: `--etcd-snapshot-schedule-cron` read as robfig/cron
reads it in the machine's local time, k3s' flags and defaults on `kubelite server`, and a failed
snapshot that only waits for the next tick."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubelite.api.cron import CronError
from kubelite.cli.cluster import server
from kubelite.etcd import snapshot, snapshot_schedule
from kubelite.etcd.process import EtcdMember
from kubelite.etcd.snapshot_schedule import SnapshotPolicy, SnapshotSchedule


def _next(spec: str, after: str) -> str | None:
    found = snapshot_schedule.parse_schedule(spec).next(dt.datetime.fromisoformat(after))
    return None if found is None else found.isoformat()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # k3s' default: 00:00 and 12:00.
        ("0 */12 * * *", "2024-01-10T07:00:00+00:00", "2024-01-10T12:00:00+00:00"),
        ("0 */12 * * *", "2024-01-10T12:00:00+00:00", "2024-01-11T00:00:00+00:00"),
        # Every minute: the next whole minute, strictly after.
        ("* * * * *", "2024-01-10T07:00:59+00:00", "2024-01-10T07:01:00+00:00"),
        ("*/15 * * * *", "2024-01-10T07:46:00+00:00", "2024-01-10T08:00:00+00:00"),
        # `N/STEP` runs from N to the field's end.
        ("10/20 * * * *", "2024-01-10T07:31:00+00:00", "2024-01-10T07:50:00+00:00"),
        # Ranges, ranges with steps, and lists.
        ("0 9-17 * * *", "2024-01-10T17:30:00+00:00", "2024-01-11T09:00:00+00:00"),
        ("0 1-9/4 * * *", "2024-01-10T05:00:00+00:00", "2024-01-10T09:00:00+00:00"),
        ("5,35 3,15 * * *", "2024-01-10T03:06:00+00:00", "2024-01-10T03:35:00+00:00"),
        ("5,35 3,15 * * *", "2024-01-10T03:36:00+00:00", "2024-01-10T15:05:00+00:00"),
        # Months and weekdays by name; Sunday is 0.
        ("0 0 1 jun *", "2024-01-10T00:00:00+00:00", "2024-06-01T00:00:00+00:00"),
        ("0 0 * * sun", "2024-01-10T00:00:00+00:00", "2024-01-14T00:00:00+00:00"),
        ("0 0 * * 0", "2024-01-10T00:00:00+00:00", "2024-01-14T00:00:00+00:00"),
        # Day of month and day of week both restricted: either one (the 13th, or a Monday).
        ("0 0 13 * 1", "2024-01-10T00:00:00+00:00", "2024-01-13T00:00:00+00:00"),
        ("0 0 13 * 1", "2024-01-13T00:00:00+00:00", "2024-01-15T00:00:00+00:00"),
        # One of them `*`: both must hold (a Friday, any day of the month).
        ("0 0 * * 5", "2024-01-10T00:00:00+00:00", "2024-01-12T00:00:00+00:00"),
        # `*/2` is a restriction in robfig (unlike Vixie cron): odd days, or Mondays.
        ("0 0 */2 * 1", "2024-01-13T12:00:00+00:00", "2024-01-15T00:00:00+00:00"),
        # Descriptors.
        ("@daily", "2024-01-10T07:00:00+00:00", "2024-01-11T00:00:00+00:00"),
        ("@hourly", "2024-01-10T07:00:00+00:00", "2024-01-10T08:00:00+00:00"),
        # February 30th never comes.
        ("0 0 30 2 *", "2024-01-10T00:00:00+00:00", None),
    ],
)
def test_next_fire(spec: str, after: str, expected: str | None) -> None:
    assert _next(spec, after) == expected


def test_the_schedule_runs_in_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # k3s' cron.New() uses time.Local: 12:00 in New York is 17:00 UTC in January.
    monkeypatch.setenv("TZ", "America/New_York")
    assert _next("0 */12 * * *", "2024-01-10T12:00:00+00:00") == "2024-01-10T17:00:00+00:00"


def test_a_zone_prefix_wins_over_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert (
        _next("CRON_TZ=Asia/Kolkata 30 9 * * *", "2024-01-10T00:00:00+00:00")
        == "2024-01-10T04:00:00+00:00"
    )


def test_an_empty_tz_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "")
    assert snapshot_schedule.local_zone() == dt.UTC


@pytest.mark.parametrize(
    "spec",
    ["0 */12 * *", "60 * * * *", "0 0 * * 7", "0 5-1 * * *", "0 0 * * mon-", "@fortnightly", ""],
)
def test_bad_schedules_are_refused(spec: str) -> None:
    with pytest.raises(CronError):
        snapshot_schedule.parse_schedule(spec)


def _server_flags(*argv: str) -> server.ServerFlags:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    return server.flags_from(parser.parse_args(["--data-dir", "/var/lib/kl", *argv]))


def test_k3s_defaults_on_kubelite_server() -> None:
    flags = _server_flags()
    assert flags.etcd is not None
    policy = flags.etcd.snapshots
    assert policy is not None
    assert policy.spec == "0 */12 * * *"
    assert policy.retention == 5
    assert policy.name == "etcd-snapshot"
    assert policy.directory == Path("/var/lib/kl/db/snapshots")
    assert policy.compress is False


def test_the_flags_are_read() -> None:
    flags = _server_flags(
        "--etcd-snapshot-schedule-cron",
        "*/5 * * * *",
        "--etcd-snapshot-retention",
        "2",
        "--etcd-snapshot-dir",
        "/backups",
        "--etcd-snapshot-name",
        "nightly",
        "--etcd-snapshot-compress",
    )
    assert flags.etcd is not None and flags.etcd.snapshots is not None
    policy = flags.etcd.snapshots
    assert (policy.spec, policy.retention, policy.directory, policy.name, policy.compress) == (
        "*/5 * * * *",
        2,
        Path("/backups"),
        "nightly",
        True,
    )


def test_disable_snapshots_turns_the_schedule_off() -> None:
    flags = _server_flags("--etcd-disable-snapshots")
    assert flags.etcd is not None and flags.etcd.snapshots is None


def test_a_bad_schedule_stops_the_server_naming_the_flag() -> None:
    with pytest.raises(SystemExit) as stopped:
        _server_flags("--etcd-snapshot-schedule-cron", "0 */12 * *")
    assert "--etcd-snapshot-schedule-cron" in str(stopped.value)
    assert "expected exactly 5 fields" in str(stopped.value)


def test_a_schedule_that_never_fires_is_refused() -> None:
    with pytest.raises(SystemExit, match="never fires"):
        _server_flags("--etcd-snapshot-schedule-cron", "0 0 30 2 *")


async def test_a_failed_snapshot_is_logged_and_the_next_tick_takes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict[str, Any]] = []
    taken = asyncio.Event()

    async def save(endpoint: str, pki: object, directory: Path, **kw: Any) -> Path:
        calls.append(kw)
        if len(calls) == 1:
            raise OSError("etcd is away")
        taken.set()
        path = directory / snapshot.file_name(kw["prefix"], kw["node_name"], 1)
        path.write_bytes(b"")
        return path

    monkeypatch.setattr(snapshot, "save", save)
    policy = SnapshotPolicy(
        spec="@every 1s",
        schedule=snapshot_schedule.parse_schedule("@every 1s"),
        directory=tmp_path,
        retention=1,
    )
    member = cast(EtcdMember, SimpleNamespace(local_client_url="https://x", pki=None))
    schedule = SnapshotSchedule(policy, member, "srv-a", jitter=lambda: 0.0)
    caplog.set_level(logging.INFO, logger=snapshot_schedule.__name__)
    schedule.start()
    try:
        await asyncio.wait_for(taken.wait(), timeout=10)
    finally:
        await schedule.stop()
    assert "etcd snapshot failed, retrying at the next tick: etcd is away" in caplog.text
    assert calls[1] == {"prefix": "etcd-snapshot", "node_name": "srv-a", "compress": False}
    assert (tmp_path / "etcd-snapshot-srv-a-1").exists()
