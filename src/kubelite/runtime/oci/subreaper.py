"""A helper process that runs `runc exec -d ...` and waits for the process it started.

runc hands a terminal's master over a console socket only when it detaches (`exec -d`), and a
detached process is re-parented to the nearest child subreaper once runc exits. This helper
makes itself that subreaper (prctl PR_SET_CHILD_SUBREAPER), so it can wait(2) for the exec'd
process and exit with its exit code, which is how the runtime learns it. Run as
`python -m kubelite.runtime.oci.subreaper PIDFILE RUNC-ARGV...`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
RUNC_FAILED = 255


def _status_code(status: int) -> int:
    """A shell's exit code for a wait status: 128 + signal for a killed process."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main(argv: list[str]) -> int:
    pidfile, runc_argv = Path(argv[0]), argv[1:]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)
        return RUNC_FAILED
    code = subprocess.call(runc_argv)
    if code != 0:
        return code  # runc's own failure; it said why on stderr
    target = int(pidfile.read_text())
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return RUNC_FAILED  # the process vanished without being reaped here
        if pid == target:
            return _status_code(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
