"""What a container said when it ended: its termination message.

Kubernetes mounts a fresh file at each container instance's `terminationMessagePath`
(/dev/termination-log by default) and, once the container has exited, reads up to 4 KiB of it
into the terminated state's `message`. With `terminationMessagePolicy: FallbackToLogsOnError`
an empty file on a failed exit gives the tail of the container's log instead: at most 80 lines
and 2 KiB (pkg/kubelet/container: MaxContainerTerminationMessageLength,
MaxContainerTerminationMessageLogLines, MaxContainerTerminationMessageLogLength).
"""

from __future__ import annotations

from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.logs import parse_line
from kubelite.runtime.cri import ContainerState, ContainerStatus

MAX_MESSAGE_BYTES = 4096
MAX_LOG_LINES = 80
MAX_LOG_BYTES = 2048


def message_file(pod_dir: Path, container: str, restart_count: int) -> Path:
    """Where the message of one container instance is kept on the host."""
    return pod_dir / "containers" / container / f"termination-{restart_count}"


def make_message_file(pod_dir: Path, container: str, restart_count: int) -> Path:
    path = message_file(pod_dir, container, restart_count)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    path.chmod(0o666)  # any user the container runs as may write it
    return path


def _log_tail(log_path: str) -> str:
    try:
        raw = Path(log_path).read_bytes()
    except OSError:
        return ""
    lines: list[bytes] = []
    piece = b""
    for line in raw.splitlines():
        try:
            entry = parse_line(line)
        except ValueError:
            continue
        piece += entry.text
        if not entry.partial:
            lines.append(piece)
            piece = b""
    text = b"".join(line + b"\n" for line in lines[-MAX_LOG_LINES:])
    return text[-MAX_LOG_BYTES:].decode(errors="replace")


def termination_message(container: Obj, status: ContainerStatus | None, pod_dir: Path) -> str:
    """The message of an exited container instance ("" for one still running)."""
    if status is None or status.state != ContainerState.CONTAINER_EXITED:
        return ""
    try:
        with message_file(pod_dir, container["name"], status.metadata.attempt).open("rb") as f:
            message = f.read(MAX_MESSAGE_BYTES).decode(errors="replace")
    except OSError:
        message = ""
    policy = container.get("terminationMessagePolicy") or "File"
    if not message and policy == "FallbackToLogsOnError" and status.exit_code != 0:
        message = _log_tail(status.log_path)
    return message
