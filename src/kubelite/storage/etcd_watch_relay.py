"""The etcd store's watch relay: a child process holding the store's Watch stream to etcd.

Why a process: see `etcd_watch.py`. It reads length-prefixed serialized WatchRequests from
stdin and writes each WatchResponse, as etcd sent it, to stdout in the same framing behind an
`R`; when the stream fails it writes `E` and the reason, and exits. It never decodes a message
(the method is called with no serializers), so it needs grpc alone, and it exits as soon as its
stdin closes: the API server that started it closed the store, or died.

Run by `RelayTransport.start` as `python -m kubelite.storage.etcd_watch_relay SPEC`, SPEC being
a `ChannelSpec` as JSON.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc

from kubelite.storage.etcd_watch import ENDED, FRAME, RESPONSE, ChannelSpec

WATCH_METHOD = "/etcdserverpb.Watch/Watch"


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd`; None at its end."""
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write(fd: int, kind: bytes, body: bytes) -> None:
    data = memoryview(FRAME.pack(len(body) + 1) + kind + body)
    while data:
        data = data[os.write(fd, data) :]


def _requests(fd: int) -> Iterator[bytes]:
    """The requests the store sends; the relay's end when the store closes its side."""
    while True:
        header = _read_exactly(fd, FRAME.size)
        body = _read_exactly(fd, FRAME.unpack(header)[0]) if header is not None else None
        if body is None:
            # grpc consumes this iterator on a thread of its own: end the whole process.
            os._exit(0)
        yield body


def _channel(spec: ChannelSpec) -> grpc.Channel:
    if not spec.secure:
        return grpc.insecure_channel(spec.target, spec.options)

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(spec.ca_file),
        private_key=read(spec.key_file),
        certificate_chain=read(spec.cert_file),
    )
    return grpc.secure_channel(spec.target, credentials, spec.options)


def main(argv: list[str]) -> int:
    # The API server's signals (Ctrl-C in a terminal reaches the whole group) are its own to
    # act on; the relay ends when the server closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = ChannelSpec.from_json(argv[1])
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    channel = _channel(spec)
    watch: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(WATCH_METHOD)
    call = watch(_requests(stdin))
    try:
        for response in call:
            _write(stdout, RESPONSE, response)
        _write(stdout, ENDED, b"etcd ended the watch stream")
    except grpc.RpcError as exc:
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        _write(stdout, ENDED, (details or "the watch stream failed").encode())
    except BrokenPipeError:
        pass  # the store is gone
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
