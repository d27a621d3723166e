"""`kubelite start`/`stop` read the server's pid file: only a live, positive pid names a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.cli.cluster import daemon


@pytest.mark.parametrize("content", ["0", "-1", "not a number", ""])
def test_a_corrupt_pid_file_names_no_server(tmp_path: Path, content: str) -> None:
    # kill(0, sig) and kill(-1, sig) reach the caller's process group and every process: a pid
    # file holding 0 or -1 must read as "no server", never as one that `stop` would signal.
    daemon._pid_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    daemon._pid_file(tmp_path).write_text(content)
    assert daemon._read_pid(tmp_path) is None


def test_a_live_pid_names_the_server(tmp_path: Path) -> None:
    daemon._pid_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    daemon._pid_file(tmp_path).write_text(str(os.getpid()))
    assert daemon._read_pid(tmp_path) == os.getpid()
