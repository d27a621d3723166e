"""runc's command line: state, start, kill, update, delete, and the argv of exec; crun's is the
same.

crun (about 3x faster than runc) refuses the hybrid cgroup layout of these machines because
cgroup2 still holds a controller (RUNTIME_NOTES.md); it works when it runs in a mount namespace
of its own without /sys/fs/cgroup/unified, which `crun_wrapper` writes a small script for, so
that conmon and this module call crun exactly as they call runc.

Every container of one runtime lives under its own runc `--root` (in the runtime's state dir),
so that runtimes on one machine, and test runs, never see each other's containers.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNC = Path("/usr/sbin/runc")  # Debian's runc
CRUN = Path("/usr/bin/crun")  # Debian's crun
UNIFIED_CGROUP = Path("/sys/fs/cgroup/unified")

# Errors both runtimes give for a container they do not know (runc; crun).
_GONE = ("does not exist", "No such file or directory")
# ...and for signalling one that has ended.
_NOT_RUNNING = ("not running", "process already", "No such process")


def crun_wrapper(path: Path, crun: Path = CRUN) -> Path:
    """Write the script that runs crun in its own mount namespace without the cgroup2 mount
    (crun: "cgroups in hybrid mode not supported"); unshare(1) makes that namespace private."""
    umount = f"umount {UNIFIED_CGROUP} && " if UNIFIED_CGROUP.is_mount() else ""
    script = f"""#!/bin/sh
exec unshare --mount sh -c '{umount}exec {crun} "$@"' crun "$@"
"""
    if not path.exists() or path.read_text() != script:
        path.write_text(script)
        path.chmod(0o755)
    return path


class RuncError(Exception):
    """runc exited non-zero; the message is its own error text."""


def _error_text(stderr: bytes) -> str:
    """runc's logrus line `time=... level=error msg="..."` reduced to the message."""
    text = stderr.decode(errors="replace").strip()
    for line in reversed(text.splitlines()):
        _, found, msg = line.partition('msg="')
        if found:
            return msg.rstrip('"').replace('\\"', '"')
    return text


@dataclass(frozen=True, slots=True)
class Runc:
    """The OCI runtime binary (runc or crun) and its state root, with the commands the runtime
    service runs through it."""

    root: Path
    binary: Path = RUNC

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), f"--root={self.root}", *args]

    async def _run(self, *args: str, stdin: bytes | None = None) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin)
        if proc.returncode != 0:
            raise RuncError(_error_text(err) or f"runc {args[0]} exited with {proc.returncode}")
        return out

    async def state(self, container_id: str) -> dict[str, Any] | None:
        """runc's state of the container (`status`: created, running, stopped), None if gone."""
        try:
            return json.loads(await self._run("state", container_id))
        except RuncError as e:
            if any(text in str(e) for text in _GONE):
                return None
            raise

    async def start(self, container_id: str) -> None:
        await self._run("start", container_id)

    async def kill(self, container_id: str, signal: int) -> bool:
        """Send `signal` to the container's init; False if it is not running any more."""
        try:
            await self._run("kill", container_id, str(signal))
        except RuncError as e:
            if any(text in str(e) for text in (*_NOT_RUNNING, *_GONE)):
                return False
            raise
        return True

    async def update(self, container_id: str, resources: dict[str, Any]) -> None:
        """`runc update --resources -`: change a running container's cgroup settings, given
        as the OCI spec's `linux.resources` (cpu shares, quota and period; memory limit and
        swap). runc orders the writes so that the kernel accepts them (memory+swap raised
        before memory, lowered after it)."""
        await self._run(
            "update", "--resources", "-", container_id, stdin=json.dumps(resources).encode()
        )

    async def delete(self, container_id: str) -> None:
        """Delete the container, killing it first if needed; gone already is fine."""
        try:
            await self._run("delete", "--force", container_id)
        except RuncError as e:
            if not any(text in str(e) for text in _GONE):
                raise

    def has_state(self, container_id: str) -> bool:
        return os.path.exists(self.root / container_id / "state.json")
