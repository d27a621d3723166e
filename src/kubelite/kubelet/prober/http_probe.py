"""The httpGet probe, and the HTTP GET that httpGet lifecycle hooks share with it.

Kubernetes builds both requests the same way (NewRequestForHTTPGetAction in
pkg/probe/http/request.go): scheme HTTP or HTTPS, host defaulting to the pod's IP, the port by
number or by the name of a container port, the path (a query string may come with it), the
`httpHeaders` given (a `Host` header names the virtual host), `User-Agent: kube-probe/1.33` (or
`kube-lifecycle/1.33`) and `Accept: */*` unless given. Certificates are not verified, no proxy
is used, no compression is asked for, and redirects are followed only while they stay on the
same host name (RedirectChecker(false)): a redirect elsewhere ends the chain with the 3xx.

The probe (DoHTTPProbe in pkg/probe/http/http.go) succeeds for 200 <= status < 400, but a 3xx
it was not allowed to follow is a warning (`Probe terminated redirects`); anything else fails
with `HTTP probe failed with statuscode: N` and never the body, which may hold secrets. A request
that does not complete fails with Go's `Get "url": ...` error text.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

import aiohttp
import yarl

from kubelite.api.schema import KUBERNETES_VERSION
from kubelite.api.types import Obj
from kubelite.kubelet.prober.gotext import dial_error, join_host_port
from kubelite.kubelet.prober.outcome import MAX_OUTPUT_BYTES, Outcome, ProbeError, ProbeResult
from kubelite.kubelet.prober.ports import resolve_port

# Go's http.Client stops after 10 redirects (net/http client.go defaultCheckRedirect).
MAX_REDIRECTS = 10
# The status codes Go's client follows a Location header for (net/http redirectBehavior).
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# OpenSSL's reasons when the peer answers a TLS hello in plain text.
_PLAINTEXT_REPLY_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
)
# Go's text for it (net/http transport.go), which the lifecycle hook's HTTP fallback looks for.
HTTP_RESPONSE_TO_HTTPS = "http: server gave HTTP response to HTTPS client"


def user_agent(purpose: str) -> str:
    """`kube-probe/1.33`, `kube-lifecycle/1.33` (userAgent in pkg/probe/http/request.go)."""
    return f"kube-{purpose}/{KUBERNETES_VERSION}"


@dataclass(frozen=True)
class HTTPRequest:
    """The GET an httpGet probe or lifecycle hook makes, resolved from the pod's spec: URL, host
    name, port and headers."""

    url: str
    hostname: str
    port: int
    headers: list[tuple[str, str]] = field(default_factory=list)

    def with_scheme(self, scheme: str) -> HTTPRequest:
        url = str(yarl.URL(self.url, encoded=True).with_scheme(scheme))
        return HTTPRequest(url, self.hostname, self.port, self.headers)

    def without_header(self, name: str) -> HTTPRequest:
        headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        return HTTPRequest(self.url, self.hostname, self.port, headers)


@dataclass(frozen=True)
class HTTPResponse:
    """What an httpGet probe judges: the status code, and the first bytes of the body for the
    probe's output."""

    status: int
    body: bytes


class HTTPGetError(Exception):
    """The GET did not complete; the message is Go's `*url.Error` text."""

    def __init__(self, message: str, *, plaintext_reply: bool = False) -> None:
        super().__init__(message)
        self.plaintext_reply = plaintext_reply


def new_request(action: Obj, container: Obj, pod_ip: str, purpose: str) -> HTTPRequest:
    """The GET an httpGet action describes; ProbeError when its port cannot be resolved."""
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port"), container)
    path = action.get("path") or ""
    if path and not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{join_host_port(host, port)}{path}"
    headers = [(h.get("name", ""), h.get("value", "")) for h in action.get("httpHeaders") or ()]
    names = {name.lower() for name, _ in headers}
    if "user-agent" not in names:
        headers.append(("User-Agent", user_agent(purpose)))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    else:
        # An Accept header given empty means "send none" (newProbeRequest).
        headers = [(k, v) for k, v in headers if k.lower() != "accept" or v]
    return HTTPRequest(url, host, port, headers)


def _ssl_plaintext_reply(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if getattr(seen, "reason", None) in _PLAINTEXT_REPLY_REASONS:
            return True
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return False


def _transport_error(request: HTTPRequest, url: str, error: BaseException) -> HTTPGetError:
    """Go's `Get "url": <cause>` for a request that failed on the wire."""
    if _ssl_plaintext_reply(error):
        return HTTPGetError(f'Get "{url}": {HTTP_RESPONSE_TO_HTTPS}', plaintext_reply=True)
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, ssl.SSLError):
            return HTTPGetError(f'Get "{url}": tls: {getattr(cause, "reason", None) or cause}')
        return HTTPGetError(f'Get "{url}": {dial_error(request.hostname, request.port, cause)}')
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return HTTPGetError(f'Get "{url}": EOF')
    return HTTPGetError(f'Get "{url}": {error}')


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """utilio.ReadAtMost: the first `limit` bytes of the body; the rest is left unread."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def http_get(request: HTTPRequest, *, timeout: float | None) -> HTTPResponse:
    """GET with the probes' client rules; HTTPGetError when no response came (or ProbeError
    when the body could not be read)."""
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
    )
    first_host = yarl.URL(request.url, encoded=True).host
    url = request.url
    reading_body = False
    try:
        async with session, asyncio.timeout(timeout):
            hops = 0
            while True:
                try:
                    response = await session.get(
                        yarl.URL(url), headers=request.headers, allow_redirects=False
                    )
                except aiohttp.ClientError as e:
                    raise _transport_error(request, url, e) from e
                async with response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECT_CODES and location:
                        target = response.url.join(yarl.URL(location))
                        if target.host == first_host:
                            if hops == MAX_REDIRECTS:
                                raise HTTPGetError(
                                    f'Get "{target}": stopped after {MAX_REDIRECTS} redirects'
                                )
                            url = str(target)
                            hops += 1
                            continue
                    reading_body = True
                    try:
                        body = await _read_at_most(response, MAX_OUTPUT_BYTES)
                    except aiohttp.ClientError as e:
                        raise ProbeError(str(e)) from e
                    return HTTPResponse(response.status, body)
    except TimeoutError:
        if reading_body:
            raise ProbeError(
                "context deadline exceeded "
                "(Client.Timeout or context cancellation while reading body)"
            ) from None
        raise HTTPGetError(
            f'Get "{url}": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)"
        ) from None


async def http_probe(request: HTTPRequest, timeout: float) -> Outcome:
    """One httpGet probe attempt (DoHTTPProbe)."""
    try:
        response = await http_get(request, timeout=timeout)
    except HTTPGetError as e:
        # Errors of the request itself are failures, so that timeouts count (DoHTTPProbe).
        return Outcome(ProbeResult.FAILURE, str(e))
    body = response.body.decode(errors="replace")
    if 200 <= response.status < 400:
        if response.status >= 300:
            return Outcome(
                ProbeResult.WARNING, f"Probe terminated redirects, Response body: {body}"
            )
        return Outcome(ProbeResult.SUCCESS, body)
    return Outcome(ProbeResult.FAILURE, f"HTTP probe failed with statuscode: {response.status}")
