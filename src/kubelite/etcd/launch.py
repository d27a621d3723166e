"""Run etcd so that it dies with the server that started it: `python -m kubelite.etcd.launch
/usr/bin/etcd ...` asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG, which
outlives the exec), then becomes etcd. A SIGKILLed server thus leaves no member holding its
ports and data, as control_plane.die_with_parent does for the other children."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl: nothing will signal us
        sys.exit(1)
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
