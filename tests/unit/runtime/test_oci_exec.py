"""Exit codes of exec: the command's own, or 126/127 when runc could not start it."""

from __future__ import annotations

import pytest

from kubelite.runtime.oci.exec import _exit_code
from kubelite.runtime.oci.subreaper import _status_code


@pytest.mark.parametrize(
    ("returncode", "stderr", "expected"),
    [
        (0, b"", 0),
        (3, b"", 3),
        (255, b"my own failure", 255),
        (255, b'exec failed: unable to start container process: exec: "x": executable file '
              b"not found in $PATH", 127),
        (255, b"exec failed: unable to start container process: exec: /etc: permission denied",
         126),
    ],
)  # fmt: skip
def test_exit_code(returncode: int, stderr: bytes, expected: int) -> None:
    assert _exit_code(returncode, stderr) == expected


def test_subreaper_status_code_of_a_killed_process() -> None:
    killed_by_sigkill = 9  # a wait status whose low bits are the signal
    assert _status_code(killed_by_sigkill) == 137
    assert _status_code(3 << 8) == 3
