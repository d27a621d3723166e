"""The shell scripts the image recipes add, run by the host's busybox (no container needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parents[3] / "images" / "recipes"
ADAPTER = RECIPES / "adapter-node-server" / "usr/src/app/adapter-server"
TWEMPROXY_ENTRYPOINT = RECIPES / "twemproxy" / "usr/local/sbin/entrypoint.sh"

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="needs busybox (Debian busybox-static)")


def _respond(request: bytes, log_file: Path) -> tuple[bytes, bytes]:
    """One HTTP exchange with the adapter, as busybox nc would hand it a connection."""
    done = subprocess.run(
        [BUSYBOX, "sh", str(ADAPTER), "respond"],  # type: ignore[list-item]
        input=request,
        capture_output=True,
        env={"LOG_FILE": str(log_file), "PATH": "/usr/bin:/bin"},
        timeout=10,
        check=True,
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    return head, body


def test_the_adapter_turns_each_log_line_into_a_json_line(tmp_path: Path) -> None:
    log = tmp_path / "file.log"
    log.write_text(
        "Wed Dec  2 03:07:50 UTC 2026# Log\n"
        "\n"
        "no hash mark here\n"
        'Thu Dec  3 00:00:00 UTC 2026# path C:\\tmp\t"quoted" # twice\n'
    )
    head, body = _respond(b"GET /logs HTTP/1.1\r\nHost: pod\r\nAccept: */*\r\n\r\n", log)
    assert head.split(b"\r\n")[:2] == [b"HTTP/1.0 200 OK", b"Content-Type: application/x-ndjson"]
    assert [json.loads(line) for line in body.splitlines()] == [
        {"date": "Wed Dec  2 03:07:50 UTC 2026", "label": "Log"},
        {"date": "", "label": "no hash mark here"},
        {"date": "Thu Dec  3 00:00:00 UTC 2026", "label": 'path C:\\tmp\t"quoted" # twice'},
    ]


def test_the_adapter_answers_empty_before_the_log_exists(tmp_path: Path) -> None:
    head, body = _respond(b"GET / HTTP/1.0\r\n\r\n", tmp_path / "missing.log")
    assert head.startswith(b"HTTP/1.0 200 OK") and body == b""


def test_the_adapter_refuses_other_methods(tmp_path: Path) -> None:
    head, _ = _respond(b"POST /logs HTTP/1.0\r\nContent-Length: 0\r\n\r\n", tmp_path / "f")
    assert head.startswith(b"HTTP/1.0 405 Method Not Allowed")


@pytest.mark.parametrize(
    ("servers", "listed"),
    [
        # The original image's form: commas.
        ("127.0.0.1:6378:1,127.0.0.1:6379:1", ["127.0.0.1:6378:1", "127.0.0.1:6379:1"]),
        # The seed's ambassador example: a blank.
        (
            "redis-st-0.redis-svc.default.svc.cluster.local:6379:1 "
            "redis-st-1.redis-svc.default.svc.cluster.local:6379:1",
            [
                "redis-st-0.redis-svc.default.svc.cluster.local:6379:1",
                "redis-st-1.redis-svc.default.svc.cluster.local:6379:1",
            ],
        ),
        # nutcracker's named servers: `host:port:weight name`.
        (
            "10.0.0.1:6379:1 one, 10.0.0.2:6379:2 two",
            ["10.0.0.1:6379:1 one", "10.0.0.2:6379:2 two"],
        ),
    ],
)
def test_twemproxys_entrypoint_writes_a_pool_of_the_redis_servers(
    tmp_path: Path, servers: str, listed: list[str]
) -> None:
    # The script writes /etc/nutcracker.conf; a copy of it writes into tmp_path instead.
    config = tmp_path / "nutcracker.conf"
    script = tmp_path / "entrypoint.sh"
    script.write_text(
        TWEMPROXY_ENTRYPOINT.read_text().replace("CONFIG=/etc/nutcracker.conf", f"CONFIG={config}")
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "LISTEN_PORT": "6380",
        "REDIS_SERVERS": servers,
        "AUTO_EJECT_HOSTS": "true",
        "TIMEOUT": "2000",
        "SERVER_RETRY_TIMEOUT": "5000",
        "SERVER_FAILURE_LIMIT": "1",
        "SERVER_CONNECTIONS": "40",
        "PRECONNECT": "true",
    }
    done = subprocess.run(
        [BUSYBOX, "sh", str(script), "echo", "started"],  # type: ignore[list-item]
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert done.stdout == "started\n"
    lines = config.read_text().splitlines()
    assert lines[:5] == [
        "pool:",
        "  listen: 0.0.0.0:6380",
        "  hash: fnv1a_64",
        "  distribution: ketama",
        "  redis: true",
    ]
    assert lines[lines.index("  servers:") + 1 :] == [f"    - {s}" for s in listed]
