"""The fuzzers' HTTP/1.1 client, and what an answer must look like to pass.

The hostile shapes (`fuzz_shapes`) are requests no well-behaved client library will send: raw
non-UTF-8 bytes in a URL, a non-ASCII `Authorization` header, a `Content-Encoding` that lies,
a `Content-Length` that matches a body cut in half. `requests` and `urllib` refuse or repair
most of them, so this client writes the request's bytes itself over a TLS socket and reads the
answer as plainly: status line, headers, then a body by `Content-Length` or chunks.

It keeps one connection per identity (with the admin's client certificate, or with none) and
opens a new one when the server closed the last: the server ends connections whose body it
could not read, as kube-apiserver does.

`judge` is the one rule both the test (`test_fuzz_api.py`) and the long run
(`bench/fuzz.py`) apply to every answer.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

# How long a request may wait for its answer's first byte. Every request the fuzzers send is
# refused or served at once; none of them may make the server think for this long.
ANSWER_TIMEOUT = 10.0
# How long a streamed answer (a watch, `follow=true`) is read before the client hangs up: its
# status line and headers are what is judged, not the stream.
STREAM_READ = 0.05
# What of a body is kept for the report of a failure.
SHOWN = 300


@dataclass
class Request:
    """One request as bytes on the wire (the target is sent exactly as given)."""

    method: str
    target: str | bytes
    headers: list[tuple[str | bytes, str | bytes]] = field(default_factory=list)
    body: bytes = b""
    # Whether the admin's client certificate is presented.
    authenticated: bool = True
    # Which hostile shape (or schema operation) made it: the counts are kept by this.
    shape: str = ""

    def wire(self) -> bytes:
        def raw(value: str | bytes) -> bytes:
            return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")

        lines = [raw(self.method) + b" " + raw(self.target) + b" HTTP/1.1", b"Host: kubelite"]
        names = {raw(name).lower() for name, _ in self.headers}
        lines += [raw(name) + b": " + raw(value) for name, value in self.headers]
        if b"content-length" not in names and (self.body or self.method in ("POST", "PUT")):
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    def describe(self) -> str:
        """The request as a failure report shows it: enough to send it again by hand."""
        body = self.body[:SHOWN]
        more = f" ... ({len(self.body)} bytes)" if len(self.body) > SHOWN else ""
        target = self.target if isinstance(self.target, str) else repr(self.target)
        headers = "".join(f"\n  {name!r}: {value!r}"[: SHOWN + 10] for name, value in self.headers)
        who = "admin certificate" if self.authenticated else "no client certificate"
        line = f"[{self.shape}] {self.method} {target[:SHOWN]} ({who})"
        return f"{line}{headers}\n  body: {body!r}{more}"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    # The client hung up on a streamed answer after STREAM_READ seconds.
    streamed: bool = False

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class NoAnswer(Exception):
    """The server closed the connection, or said nothing in ANSWER_TIMEOUT seconds."""


@dataclass
class Credentials:
    """What `kubelite server` wrote into its data directory's `tls/` for the admin."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def of(cls, data_dir: Path) -> Credentials:
        tls = data_dir / "tls"
        return cls(tls / "ca.crt", tls / "admin.crt", tls / "admin.key")


class Client:
    """Keep-alive HTTPS connections to one server, one per identity."""

    def __init__(self, host: str, port: int, credentials: Credentials) -> None:
        self.address = (host, port)
        self._contexts = {}
        for authenticated in (True, False):
            context = ssl.create_default_context(cafile=str(credentials.ca))
            context.check_hostname = False
            if authenticated:
                context.load_cert_chain(str(credentials.cert), str(credentials.key))
            self._contexts[authenticated] = context
        self._sockets: dict[bool, ssl.SSLSocket] = {}
        self._pending: dict[bool, bytes] = {}

    @classmethod
    def of_url(cls, url: str, credentials: Credentials) -> Client:
        host, _, port = url.removeprefix("https://").rstrip("/").rpartition(":")
        return cls(host, int(port), credentials)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def send(self, request: Request) -> Response:
        """Send `request`, retrying once on a fresh connection if a kept-alive one was gone."""
        reused = request.authenticated in self._sockets
        try:
            return self._exchange(request)
        except (NoAnswer, OSError):
            self._drop(request.authenticated)
            if not reused:
                raise
        return self._exchange(request)

    def _connect(self, authenticated: bool) -> ssl.SSLSocket:
        sock = self._sockets.get(authenticated)
        if sock is None:
            raw = socket.create_connection(self.address, timeout=ANSWER_TIMEOUT)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = self._contexts[authenticated].wrap_socket(raw)
            self._sockets[authenticated] = sock
            self._pending[authenticated] = b""
        return sock

    def _drop(self, authenticated: bool) -> None:
        sock = self._sockets.pop(authenticated, None)
        if sock is not None:
            sock.close()

    def _exchange(self, request: Request) -> Response:
        who = request.authenticated
        sock = self._connect(who)
        sock.settimeout(ANSWER_TIMEOUT)
        sock.sendall(request.wire())
        reader = _Reader(sock, self._pending[who])
        head = reader.until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise NoAnswer(f"not an HTTP answer: {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body, streamed = b"", False
        if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in headers.get("transfer-encoding", ""):
            body, streamed = reader.chunks(time.monotonic() + STREAM_READ)
        elif "content-length" in headers:
            body = reader.exactly(int(headers["content-length"]))
        else:
            body, streamed = reader.to_end(time.monotonic() + STREAM_READ), True
        if streamed or headers.get("connection", "").lower() == "close":
            self._drop(who)
        else:
            self._pending[who] = reader.left
        return Response(status, headers, body, streamed)


class _Reader:
    """Buffered reads from a socket, for the answer's parts."""

    def __init__(self, sock: ssl.SSLSocket, pending: bytes) -> None:
        self.sock = sock
        self.left = pending

    def _more(self) -> None:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise NoAnswer(f"no answer in {self.sock.gettimeout()} s") from None
        if not data:
            raise NoAnswer("the server closed the connection")
        self.left += data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.left:
            self._more()
        head, self.left = self.left.split(marker, 1)
        return head

    def exactly(self, size: int) -> bytes:
        while len(self.left) < size:
            self._more()
        data, self.left = self.left[:size], self.left[size:]
        return data

    def chunks(self, deadline: float) -> tuple[bytes, bool]:
        body = b""
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                size = int(self.until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self.until(b"\r\n")
                    return body, False
                body += self.exactly(size + 2)[:-2]
            except NoAnswer:
                if time.monotonic() >= deadline:
                    return body, True
                raise

    def to_end(self, deadline: float) -> bytes:
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self._more()
            except NoAnswer:
                break
        data, self.left = self.left, b""
        return data


def is_too_large_resource_version(response: Response) -> bool:
    """Kubernetes' own 5xx: a read at a resourceVersion the store has not reached is a 504
    Timeout whose cause client-go's reflector recognises
    (staging/src/k8s.io/apiserver/pkg/storage/cacher: `newTooLargeResourceVersionError`)."""
    status = response.json()
    if response.status != 504 or not isinstance(status, dict):
        return False
    causes = (status.get("details") or {}).get("causes") or []
    return status.get("reason") == "Timeout" and any(
        c.get("reason") == "ResourceVersionTooLarge" for c in causes if isinstance(c, dict)
    )


def is_http_parser_refusal(response: Response) -> bool:
    """aiohttp's own plain-text 400 for a request its HTTP parser refused (a method it does not
    know, a raw non-ASCII byte in the URL, a control character in a header, a Content-Encoding
    it cannot decode): the application never saw the request, so it could not answer with a
    Status. Go's net/http answers its parser's refusals in plain text as well, but it takes
    some of these (any token as a method, raw bytes in a path) that aiohttp refuses."""
    return (
        response.status == 400
        and response.headers.get("content-type", "").startswith("text/plain")
        # Every answer of the application says how it may be cached; aiohttp's do not.
        and "cache-control" not in response.headers
    )


# 5xx answers kubelite still gives, each a known follow-up (messages they start with). None now:
# the last one, an apply to an object stored with a condition without `type`, went when the
# store began to fill a status's required fields with Go's zero values (`api/zerofields.py`).
KNOWN_SERVER_ERRORS: tuple[str, ...] = ()


def is_known_server_error(response: Response) -> bool:
    status = response.json()
    message = status.get("message", "") if isinstance(status, dict) else ""
    return response.status == 500 and str(message).startswith(KNOWN_SERVER_ERRORS)


def judge(request: Request, response: Response) -> str | None:
    """Why this answer is wrong, or None when it is one Kubernetes could give.

    Wrong: any 5xx but the too-large-resourceVersion 504; an error (4xx) whose body is not a
    `Status` with that code, which is what every Kubernetes client decodes an error as.
    """
    if response.status >= 500 and not (
        is_too_large_resource_version(response) or is_known_server_error(response)
    ):
        return f"{response.status} from the server: {response.body[:SHOWN]!r}"
    if response.status < 400 or request.method == "HEAD":
        return None
    status = response.json()
    if is_http_parser_refusal(response):
        return None
    if not isinstance(status, dict) or status.get("kind") != "Status":
        return f"{response.status} whose body is not a Status: {response.body[:SHOWN]!r}"
    if status.get("code") != response.status:
        return f"{response.status} whose Status says code {status.get('code')!r}"
    return None


# The start of each record `kubelite server` logs: time, level, logger.
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+) (\S+): ", re.MULTILINE)


def log_errors(log: str, ignored_loggers: tuple[str, ...] = ()) -> list[str]:
    """The server log's ERROR records and tracebacks, but those of `ignored_loggers`."""
    records = list(LOG_RECORD.finditer(log))
    found = []
    for record, following in zip(records, [*records[1:], None], strict=True):
        text = log[record.start() : following.start() if following else len(log)]
        if record.group(2) in ignored_loggers:
            continue
        if record.group(1) in ("ERROR", "CRITICAL") or "Traceback" in text:
            found.append(text[:2000])
    return found
