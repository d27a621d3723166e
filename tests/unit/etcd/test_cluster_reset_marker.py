"""`--cluster-reset` runs once, as k3s' Cluster.start decides (etcd/embedded.py): a reset leaves
`<data-dir>/db/reset-flag`; a plain reset with it there is refused, one with a restore path is
done again, and a start without the flag removes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.etcd import embedded, process
from kubelite.etcd.embedded import ResetStep, reset_step

SNAPSHOT = Path("/snapshots/etcd-snapshot-a-1")


@pytest.mark.parametrize(
    ("cluster_reset", "restore_path", "reset_done", "step"),
    [
        (False, None, False, ResetStep.START),
        (False, None, True, ResetStep.START),
        (True, None, False, ResetStep.RESET),
        (True, None, True, ResetStep.REFUSE),
        (True, SNAPSHOT, False, ResetStep.RESET),
        # k3s: "If we're restoring from a snapshot, don't check the reset-flag".
        (True, SNAPSHOT, True, ResetStep.RESET),
    ],
)
def test_the_step_follows_the_flag_and_the_marker(
    cluster_reset: bool, restore_path: Path | None, reset_done: bool, step: ResetStep
) -> None:
    got = reset_step(cluster_reset=cluster_reset, restore_path=restore_path, reset_done=reset_done)
    assert got is step


def test_the_marker_is_k3s_reset_flag_under_db(tmp_path: Path) -> None:
    assert embedded.reset_file(tmp_path) == tmp_path / "db" / "reset-flag"
    embedded.mark_reset(tmp_path)
    assert (tmp_path / "db" / "reset-flag").is_file()
    assert (tmp_path / "db" / "reset-flag").stat().st_mode & 0o777 == 0o600


def _options(data_dir: Path, **kw: object) -> embedded.Options:
    return embedded.Options(data_dir=data_dir, node_name="srv-a", address="127.0.0.1", **kw)  # type: ignore[arg-type]


def _initialized(data_dir: Path) -> str:
    """A data dir that holds a member (k3s' IsInitialized: member/wal), named once."""
    (process.db_dir(data_dir) / process.WAL_DIR).mkdir(parents=True)
    return process.member_name(data_dir, "srv-a")


async def test_a_start_without_the_flag_removes_the_marker(tmp_path: Path) -> None:
    name = _initialized(tmp_path)
    embedded.mark_reset(tmp_path)
    member = await embedded.prepare(_options(tmp_path, cluster_init=True))
    assert not embedded.reset_file(tmp_path).exists()
    assert member.name == name
    assert "--force-new-cluster" not in member.argv()


async def test_a_second_plain_reset_is_refused_and_names_the_marker(tmp_path: Path) -> None:
    _initialized(tmp_path)
    embedded.mark_reset(tmp_path)
    with pytest.raises(embedded.EmbeddedEtcdError) as refused:
        await embedded.prepare(_options(tmp_path, cluster_reset=True))
    message = str(refused.value)
    assert str(embedded.reset_file(tmp_path)) in message
    assert "without --cluster-reset" in message
    assert embedded.reset_file(tmp_path).exists()


async def test_a_first_plain_reset_forces_a_new_cluster_under_a_new_name(tmp_path: Path) -> None:
    old = _initialized(tmp_path)
    member = await embedded.prepare(_options(tmp_path, cluster_reset=True))
    assert "--force-new-cluster" in member.argv()
    assert member.name != old and member.name.startswith("srv-a-")
    assert (process.db_dir(tmp_path) / "name").read_text() == member.name
    # The marker is left once the reset is confirmed (cli.cluster.embedded_etcd.reset).
    assert not embedded.reset_file(tmp_path).exists()


async def test_a_reset_with_a_restore_path_is_not_refused_by_the_marker(tmp_path: Path) -> None:
    _initialized(tmp_path)
    embedded.mark_reset(tmp_path)
    missing = tmp_path / "no-such-snapshot"
    # Past the marker, on to the restore: which fails on the missing file, not on the marker.
    with pytest.raises(embedded.EmbeddedEtcdError, match="no snapshot file"):
        await embedded.prepare(
            _options(tmp_path, cluster_reset=True, cluster_reset_restore_path=missing)
        )
