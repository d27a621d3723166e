"""`kubelite etcd-snapshot delete` and `prune` on the local snapshot directory, as k3s'
(pkg/cli/etcdsnapshot/etcd_snapshot.go, pkg/etcd/snapshot.go DeleteSnapshots and
snapshotRetention): what is left on disk, what is printed, and bad input refused with one line
and exit code 1, never reaching past the directory. No etcd: both only touch files."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.cli.cluster import etcd_snapshot


@pytest.fixture(autouse=True)
def _no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "ETCD_SNAPSHOT_DIR", "ETCD_SNAPSHOT_RETENTION", "NODE_NAME"):
        monkeypatch.delenv(f"KUBELITE_{name}", raising=False)


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    directory = tmp_path / "snapshots"
    directory.mkdir()
    return directory


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    etcd_snapshot.add_arguments(parser)
    return etcd_snapshot.run(parser.parse_args(list(argv)))


def _touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"snapshot " + name.encode())


def _names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- delete ---


def test_delete_removes_the_named_snapshots_as_ls_prints_them(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch(snapshots, "on-demand-s1-100", "on-demand-s1-200.zip", "etcd-snapshot-s1-300")

    code = _run(
        "delete", "--etcd-snapshot-dir", str(snapshots), "on-demand-s1-200.zip", "on-demand-s1-100"
    )

    assert code == 0
    assert _names(snapshots) == {"etcd-snapshot-s1-300"}
    out = capsys.readouterr()
    # k3s' CLI line for each, in the order given.
    assert out.out.splitlines() == [
        "Snapshot on-demand-s1-200.zip deleted.",
        "Snapshot on-demand-s1-100 deleted.",
    ]
    assert out.err == ""


def test_delete_takes_the_dir_alias_and_defaults_to_the_data_dirs_snapshots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = tmp_path / "data" / "db" / "snapshots"
    default.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _touch(default, "on-demand-s1-100")
    _touch(elsewhere, "on-demand-s1-100")

    assert _run("delete", "--data-dir", str(tmp_path / "data"), "on-demand-s1-100") == 0
    assert _names(default) == set()
    assert _names(elsewhere) == {"on-demand-s1-100"}

    assert _run("delete", "--dir", str(elsewhere), "on-demand-s1-100") == 0
    assert _names(elsewhere) == set()
    assert capsys.readouterr().out.count("Snapshot on-demand-s1-100 deleted.") == 2


def test_delete_of_an_unknown_name_names_it_and_removes_nothing(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch(snapshots, "on-demand-s1-100", "on-demand-s1-200")

    code = _run("delete", "--dir", str(snapshots), "on-demand-s1-100", "on-demand-s1-999")

    assert code == 1
    # All or nothing: the known name given with it stays too.
    assert _names(snapshots) == {"on-demand-s1-100", "on-demand-s1-200"}
    out = capsys.readouterr()
    assert out.out == ""
    line = _one_error_line(out.err)
    assert "'on-demand-s1-999' not found" in line
    assert str(snapshots) in line


@pytest.mark.parametrize(
    "name",
    ["../outside", "sub/on-demand-s1-100", "..", ".", "", "/ABS"],
    ids=["parent", "subdirectory", "dotdot", "dot", "empty", "absolute"],
)
def test_delete_never_reaches_past_the_snapshot_directory(
    tmp_path: Path, snapshots: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    _touch(tmp_path, "outside")
    (snapshots / "sub").mkdir()
    _touch(snapshots / "sub", "on-demand-s1-100")
    _touch(snapshots, "on-demand-s1-200")
    name = name.replace("/ABS", str(snapshots / "on-demand-s1-200"))

    code = _run("delete", "--dir", str(snapshots), "on-demand-s1-200", name)

    assert code == 1
    assert (tmp_path / "outside").exists()
    assert (snapshots / "sub" / "on-demand-s1-100").exists()
    assert (snapshots / "on-demand-s1-200").exists()
    out = capsys.readouterr()
    assert out.out == ""
    assert repr(name) in _one_error_line(out.err)


@pytest.mark.parametrize("name", ["sub", "on-demand-s1-100.part"])
def test_delete_takes_only_what_ls_lists(
    snapshots: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # A directory, or a save still being written, is not a snapshot.
    (snapshots / "sub").mkdir()
    _touch(snapshots, "on-demand-s1-100.part")

    assert _run("delete", "--dir", str(snapshots), name) == 1

    assert _names(snapshots) == {"sub", "on-demand-s1-100.part"}
    assert f"{name!r} not found" in _one_error_line(capsys.readouterr().err)


def test_delete_without_names_is_k3s_error(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch(snapshots, "on-demand-s1-100")
    assert _run("delete", "--dir", str(snapshots)) == 1
    assert _names(snapshots) == {"on-demand-s1-100"}
    assert _one_error_line(capsys.readouterr().err) == "error: no snapshots given for removal"


def test_delete_in_a_missing_directory_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert _run("delete", "--dir", str(missing), "on-demand-s1-100") == 1
    assert str(missing) in _one_error_line(capsys.readouterr().err)
    assert not missing.exists()


# --- prune ---


def test_prune_keeps_the_newest_five_on_demand_snapshots_by_default(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_demand = [f"on-demand-s1-{stamp}" for stamp in (700, 100, 600, 200, 500, 300, 400)]
    _touch(snapshots, *on_demand, "on-demand-s1-800.zip", "etcd-snapshot-s1-50", "before-s1-60")

    assert _run("prune", "--dir", str(snapshots)) == 0

    # Retention 5 and prefix `on-demand`, k3s' defaults for the command; by the time in the
    # name, .zip or not; other prefixes untouched.
    assert _names(snapshots) == {
        "on-demand-s1-800.zip",
        "on-demand-s1-700",
        "on-demand-s1-600",
        "on-demand-s1-500",
        "on-demand-s1-400",
        "etcd-snapshot-s1-50",
        "before-s1-60",
    }
    out = capsys.readouterr()
    # Oldest first.
    assert out.out.splitlines() == [
        "Snapshot on-demand-s1-100 deleted.",
        "Snapshot on-demand-s1-200 deleted.",
        "Snapshot on-demand-s1-300 deleted.",
    ]
    assert out.err == ""


def test_prune_with_a_name_and_retention_counts_every_nodes_files(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As k3s' snapshotRetention: only the name prefix counts, not the node in the name.
    _touch(snapshots, "etcd-snapshot-s1-100", "etcd-snapshot-s2-300", "etcd-snapshot-s1-200")
    _touch(snapshots, "on-demand-s1-10")

    code = _run(
        "prune", "--dir", str(snapshots), "--name", "etcd-snapshot", "--snapshot-retention", "1"
    )

    assert code == 0
    assert _names(snapshots) == {"etcd-snapshot-s2-300", "on-demand-s1-10"}
    assert capsys.readouterr().out.splitlines() == [
        "Snapshot etcd-snapshot-s1-100 deleted.",
        "Snapshot etcd-snapshot-s1-200 deleted.",
    ]


def test_prune_takes_k3s_etcd_snapshot_retention_spelling_and_the_servers_variable(
    snapshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(snapshots, *(f"on-demand-s1-{stamp}" for stamp in (1, 2, 3, 4)))
    assert _run("prune", "--dir", str(snapshots), "--etcd-snapshot-retention", "3") == 0
    assert _names(snapshots) == {"on-demand-s1-2", "on-demand-s1-3", "on-demand-s1-4"}

    monkeypatch.setenv("KUBELITE_ETCD_SNAPSHOT_RETENTION", "1")
    assert _run("prune", "--dir", str(snapshots)) == 0
    assert _names(snapshots) == {"on-demand-s1-4"}


def test_prune_within_retention_deletes_and_prints_nothing(
    snapshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch(snapshots, "on-demand-s1-100", "on-demand-s1-200")
    assert _run("prune", "--dir", str(snapshots)) == 0
    assert _names(snapshots) == {"on-demand-s1-100", "on-demand-s1-200"}
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("retention", ["0", "-1"])
def test_prune_refuses_a_retention_below_one(
    snapshots: Path, capsys: pytest.CaptureFixture[str], retention: str
) -> None:
    _touch(snapshots, "on-demand-s1-100", "on-demand-s1-200")

    assert _run("prune", "--dir", str(snapshots), "--snapshot-retention", retention) == 1

    assert _names(snapshots) == {"on-demand-s1-100", "on-demand-s1-200"}
    out = capsys.readouterr()
    assert out.out == ""
    assert f"--snapshot-retention {retention}" in _one_error_line(out.err)


@pytest.mark.parametrize("action", ["prune", "save"])
@pytest.mark.parametrize("name", ["../on-demand", "a/b", ""])
def test_a_name_prefix_with_a_path_separator_is_refused(
    tmp_path: Path,
    snapshots: Path,
    capsys: pytest.CaptureFixture[str],
    action: str,
    name: str,
) -> None:
    _touch(tmp_path, "on-demand-s1-100", "on-demand-s1-200")
    argv = [action, "--dir", str(snapshots), "--data-dir", str(tmp_path), "--name", name]

    assert _run(*argv, "--snapshot-retention", "1") == 1

    assert {"on-demand-s1-100", "on-demand-s1-200"} <= _names(tmp_path)
    assert f"--name {name!r}" in _one_error_line(capsys.readouterr().err)


def test_prune_in_a_missing_directory_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert _run("prune", "--dir", str(missing)) == 1
    assert str(missing) in _one_error_line(capsys.readouterr().err)
    assert not missing.exists()
