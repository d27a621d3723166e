"""Error texts in the words Go's standard library uses, so that probe events read as Kubernetes'.

People search for `dial tcp 10.42.0.5:8080: connect: connection refused` and
`context deadline exceeded`; the kubelet's messages are Go's `net` and `net/http` errors passed
through, so kubelite writes the same texts from Python's exceptions.
"""

from __future__ import annotations

import os


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: an IPv6 address goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def os_error_text(error: OSError) -> str:
    """Go's syscall.Errno text: strerror, starting with a lower-case letter."""
    if error.errno is None:
        return str(error)
    text = os.strerror(error.errno)
    return text[:1].lower() + text[1:]


def dial_error(host: str, port: int, error: BaseException) -> str:
    """A failed `net.Dial("tcp", host:port)`, as Go prints it.

    >>> dial_error("10.42.0.5", 8080, ConnectionRefusedError(111, "Connection refused"))
    'dial tcp 10.42.0.5:8080: connect: connection refused'
    """
    addr = join_host_port(host, port)
    if isinstance(error, TimeoutError) and error.errno is None:
        return f"dial tcp {addr}: i/o timeout"
    if isinstance(error, OSError) and error.errno is not None and error.errno < 0:
        # getaddrinfo's EAI_* codes are negative: the name did not resolve.
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(error, OSError):
        return f"dial tcp {addr}: connect: {os_error_text(error)}"
    return f"dial tcp {addr}: {error}"


def duration(seconds: float) -> str:
    """time.Duration's String for the values probes use: `1s`, `1.5s`, `500ms`, `2m0s`."""
    if seconds < 1:
        millis = round(seconds * 1000, 6)
        return f"{millis:g}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.9f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text
