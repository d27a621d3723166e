"""A client of the OCI distribution protocol: manifests and blobs, pulled and pushed.

`RegistryClient` owns one aiohttp session for every registry; `client.repository(endpoint,
name)` gives a `Repository`, the handle a pull or push works through. It answers the registry's
401 challenges itself (`auth.py`: Basic, or a Bearer token fetched from the realm, cached per
repository and scope) and retries the request once with them.

What goes wrong comes out as one of four exceptions, which the callers turn into the runtime's
errors with the image named: `RegistryNotFound` (404, MANIFEST_UNKNOWN, NAME_UNKNOWN...),
`RegistryDenied` (401 after trying the credentials, 403), `RegistryUnreachable` (refused
connection, TLS, timeout, 429, 5xx; `RegistryUnknownHost` when DNS does not know the host), and
`RegistryProtocolError` for the rest. Their messages
follow containerd's, which is what a kubelet user sees in `ErrImagePull` events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from kubelite.runtime.images.auth import (
    Challenge,
    Credentials,
    DockerConfig,
    parse_www_authenticate,
)
from kubelite.runtime.images.mediatypes import MANIFEST_ACCEPT
from kubelite.runtime.images.registries import Endpoint, RegistriesConfig, ssl_context

log = logging.getLogger(__name__)

# containerd's remotes/docker: manifests larger than this are refused (limit.go).
MAX_MANIFEST_SIZE = 4 << 20
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 60.0
# A token is refreshed this long before the expiry the realm gave (distribution's token spec:
# expires_in defaults to 60 seconds).
DEFAULT_TOKEN_LIFETIME = 60.0
TOKEN_EXPIRY_MARGIN = 5.0
# The OCI distribution spec's error codes that mean "no such thing".
NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "NOT_FOUND"})
USER_AGENT = "kubelite"


class RegistryError(Exception):
    """A request to a registry failed; the message says how, containerd's way."""


class RegistryNotFound(RegistryError):
    """The registry has no such repository, manifest or blob: the kubelet reports the image as not
    found."""


class RegistryDenied(RegistryError):
    """The registry refused the credentials, or asked for some and had none: an authorization
    failure."""


class RegistryUnreachable(RegistryError):
    """The registry could not be reached or did not answer in time; a pull may succeed later."""


class RegistryUnknownHost(RegistryUnreachable):
    """The registry's host name does not resolve, which the kubelet reports apart from other
    connection failures."""


class RegistryProtocolError(RegistryError):
    """The registry answered in a way the distribution protocol does not allow (a bad token answer,
    an unexpected status)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest as the registry served it: its bytes, media type and the digest it announced,
    which the pull checks."""

    data: bytes
    media_type: str
    digest_header: str  # Docker-Content-Digest, when the registry sent one


def _server_message(body: bytes) -> str:
    """The `errors` of an OCI error body as `CODE: message`, or the body's start."""
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(f"{e.get('code', '').lower()}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace").strip()


def _error_codes(body: bytes) -> set[str]:
    try:
        return {e.get("code", "") for e in json.loads(body).get("errors") or []}
    except (ValueError, AttributeError):
        return set()


class RegistryClient:
    """One HTTP session for all registries, with the credentials and TLS settings to use."""

    def __init__(
        self,
        config: RegistriesConfig,
        docker_config: DockerConfig,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.config = config
        self.docker_config = docker_config
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=connect_timeout,
            connect=connect_timeout,
            sock_read=read_timeout,
        )
        self._session: aiohttp.ClientSession | None = None
        # (host, scope, credentials) -> (Authorization header, expiry as time.monotonic()).
        # Keyed by the credentials too: a token one pod's secret earned is not another's.
        self.tokens: dict[tuple[str, str, Credentials | None], tuple[str, float]] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"User-Agent": USER_AGENT}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def credentials_for(self, host: str, given: Credentials | None) -> Credentials | None:
        if given:
            return given
        configured = self.config.host_config(host).credentials
        if configured:
            return configured
        return self.docker_config.lookup(host)

    def repository(
        self,
        endpoint: Endpoint,
        name: str,
        *,
        credentials: Credentials | None = None,
        push: bool = False,
    ) -> Repository:
        return Repository(
            self, endpoint, name, self.credentials_for(endpoint.host, credentials), push
        )


class Repository:
    """One repository at one endpoint: authorized requests for its manifests and blobs."""

    def __init__(
        self,
        client: RegistryClient,
        endpoint: Endpoint,
        name: str,
        credentials: Credentials | None,
        push: bool,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.name = name
        self.credentials = credentials
        self.scope = f"repository:{name}:{'pull,push' if push else 'pull'}"
        self._ssl = ssl_context(client.config.host_config(endpoint.host))
        self._authorization = ""
        self._token_key = (endpoint.host, self.scope, credentials or None)

    def url(self, path: str) -> str:
        return f"{self.endpoint.base_url}/{quote(self.name)}/{path}"

    # --- requests ---

    def _cached_token(self) -> str:
        cached = self.client.tokens.get(self._token_key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        return ""

    async def _send(
        self, method: str, url: str, headers: dict[str, str], body: Callable[[], Any] | None
    ) -> aiohttp.ClientResponse:
        try:
            return await self.client.session().request(
                method,
                url,
                headers=headers,
                data=body() if body else None,
                ssl=self._ssl,
            )
        except aiohttp.ClientConnectorDNSError as e:
            host = self.endpoint.host.rsplit(":", 1)[0]
            raise RegistryUnknownHost(
                f'failed to do request: {method} "{url}": dial tcp: lookup {host}: no such host'
            ) from e
        except aiohttp.ClientConnectorCertificateError as e:
            raise RegistryUnreachable(
                f'failed to do request: {method} "{url}": tls: {e.certificate_error}'
            ) from e
        except aiohttp.ClientConnectorError as e:
            errno = e.os_error.errno
            reason = os.strerror(errno) if errno else str(e.os_error)
            raise RegistryUnreachable(
                f'failed to do request: {method} "{url}": dial tcp {self.endpoint.host}: '
                f"connect: {reason.lower()}"
            ) from e
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise RegistryUnreachable(f'failed to do request: {method} "{url}": i/o timeout') from e
        except aiohttp.ClientError as e:
            raise RegistryUnreachable(f'failed to do request: {method} "{url}": {e}') from e

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Callable[[], Any] | None = None,
        url: str | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> aiohttp.ClientResponse:
        """Send a request, answering one 401 challenge; return a response whose status is in
        `ok` (the caller releases it), or raise RegistryError.

        `body` is a factory, since a request refused with 401 is sent again.
        """
        url = url or self.url(path)
        for attempt in range(2):
            sent = dict(headers or {})
            authorization = self._authorization or self._cached_token()
            if authorization:
                sent["Authorization"] = authorization
            response = await self._send(method, url, sent, body)
            if response.status in ok:
                return response
            data = await self._read_error(response)
            if response.status == 401 and attempt == 0:
                challenges = parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
                await self._authorize(challenges, url, data)
                continue
            raise self._status_error(method, url, response.status, response.reason or "", data)
        raise AssertionError("unreachable")

    async def _read_error(self, response: aiohttp.ClientResponse) -> bytes:
        try:
            return await response.content.read(64 << 10)
        except (aiohttp.ClientError, TimeoutError):
            return b""
        finally:
            response.release()

    def _status_error(
        self, method: str, url: str, status: int, reason: str, body: bytes
    ) -> RegistryError:
        server = _server_message(body)
        detail = f"unexpected status from {method} request to {url}: {status} {reason}"
        if server:
            detail += f": {server}"
        if status == 404 or _error_codes(body) & NOT_FOUND_CODES:
            return RegistryNotFound(detail)
        if status == 401:
            if self.credentials:
                return RegistryDenied(f"failed to authorize: {detail}")
            return RegistryDenied(
                "pull access denied, repository does not exist or may require authorization: "
                + detail
            )
        if status == 403:
            return RegistryDenied(detail)
        if status == 429 or status >= 500:
            return RegistryUnreachable(detail)
        return RegistryProtocolError(detail)

    async def _authorize(self, challenges: list[Challenge], url: str, body: bytes) -> None:
        by_scheme = {c.scheme: c for c in challenges}
        creds = self.credentials
        if "bearer" in by_scheme:
            self._authorization = await self._fetch_token(by_scheme["bearer"])
        elif "basic" in by_scheme:
            if not creds or not creds.username:
                raise RegistryDenied(
                    f"failed to authorize: no basic auth credentials for {self.endpoint.host}"
                )
            self._authorization = creds.basic_header()
        else:
            raise RegistryDenied(
                f"failed to authorize: {url} answered 401 without a usable challenge"
            )

    async def _fetch_token(self, challenge: Challenge) -> str:
        creds = self.credentials
        if creds and creds.registry_token:
            return f"Bearer {creds.registry_token}"
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryDenied(
                f"failed to authorize: bearer challenge without a realm: {realm!r}"
            )
        params = {"scope": self.scope}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        headers: dict[str, str] = {}
        method = "GET"
        form: dict[str, str] | None = None
        if creds and creds.identity_token:
            # The OAuth2 refresh-token grant (distribution's docs/spec/auth/oauth.md).
            method = "POST"
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": USER_AGENT,
                **params,
            }
        elif creds and creds.username:
            headers["Authorization"] = creds.basic_header()
        url = realm if form else f"{realm}{'&' if '?' in realm else '?'}{urlencode(params)}"
        try:
            async with self.client.session().request(
                method, url, headers=headers, data=form, ssl=self._ssl
            ) as response:
                data = await response.content.read(1 << 20)
                status, reason = response.status, response.reason
        except (aiohttp.ClientError, TimeoutError) as e:
            raise RegistryUnreachable(f"failed to fetch oauth token from {realm}: {e}") from e
        if status in (401, 403):
            raise RegistryDenied(
                f"failed to authorize: failed to fetch oauth token: unexpected status from "
                f"{method} request to {realm}: {status} {reason}"
            )
        if status != 200:
            raise RegistryUnreachable(
                f"failed to fetch oauth token from {realm}: {status} {reason}"
            )
        try:
            answer = json.loads(data)
            token = answer.get("token") or answer.get("access_token")
            lifetime = float(answer.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError) as e:
            raise RegistryProtocolError(f"bad token answer from {realm}: {e}") from e
        if not token:
            raise RegistryProtocolError(f"bad token answer from {realm}: no token")
        header = f"Bearer {token}"
        expiry = time.monotonic() + max(lifetime - TOKEN_EXPIRY_MARGIN, 1.0)
        self.client.tokens[self._token_key] = (header, expiry)
        return header

    # --- the protocol ---

    async def get_manifest(self, reference: str) -> Manifest:
        response = await self.request(
            "GET", f"manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        try:
            if (response.content_length or 0) > MAX_MANIFEST_SIZE:
                raise RegistryProtocolError(
                    f"manifest {reference} is larger than {MAX_MANIFEST_SIZE} bytes"
                )
            data = await response.content.read(MAX_MANIFEST_SIZE + 1)
            if len(data) > MAX_MANIFEST_SIZE:
                raise RegistryProtocolError(
                    f"manifest {reference} is larger than {MAX_MANIFEST_SIZE} bytes"
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            raise RegistryUnreachable(f"failed to read manifest {reference}: {e}") from e
        finally:
            response.release()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(data, media_type, response.headers.get("Docker-Content-Digest", ""))

    @contextlib.asynccontextmanager
    async def blob_chunks(
        self, digest: str, chunk: int = 256 << 10
    ) -> AsyncIterator[tuple[int | None, AsyncIterator[bytes]]]:
        """Open blob `digest`: (its length if known, an iterator over its bytes)."""
        response = await self.request("GET", f"blobs/{digest}")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for data in response.content.iter_chunked(chunk):
                    yield data
            except (aiohttp.ClientError, TimeoutError) as e:
                raise RegistryUnreachable(f"failed to read blob {digest}: {e}") from e

        try:
            yield response.content_length, chunks()
        finally:
            response.release()

    async def has_blob(self, digest: str) -> bool:
        try:
            response = await self.request("HEAD", f"blobs/{digest}")
        except RegistryNotFound:
            return False
        response.release()
        return True

    async def push_blob(self, digest: str, path: Path, size: int) -> None:
        """Upload a blob monolithically (POST for an upload URL, then one PUT with the bytes)."""
        response = await self.request("POST", "blobs/uploads/", ok=(202,))
        location = response.headers.get("Location", "")
        response.release()
        if not location:
            raise RegistryProtocolError(f"upload of {digest}: no Location in the answer")
        if location.startswith("/"):
            location = f"{self.endpoint.scheme}://{self.endpoint.host}{location}"
        separator = "&" if "?" in location else "?"
        url = f"{location}{separator}{urlencode({'digest': digest})}"

        def body() -> Any:
            return open(path, "rb")

        response = await self.request(
            "PUT",
            "",
            url=url,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            body=body,
            ok=(201, 204),
        )
        response.release()

    async def put_manifest(self, reference: str, data: bytes, media_type: str) -> None:
        response = await self.request(
            "PUT",
            f"manifests/{reference}",
            headers={"Content-Type": media_type},
            body=lambda: data,
            ok=(201, 204),
        )
        response.release()
