"""Test helper: a small in-process registry (OCI distribution API) with Basic or Bearer auth.

It serves manifests and blobs from dicts, counts blob downloads, can serve a blob whose bytes
are wrong, and accepts monolithic pushes; `auth="bearer"` adds a token realm at /token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from image_builder import BuiltImage


@dataclass
class FakeRegistry:
    auth: str = ""  # "", "basic" or "bearer"
    users: dict[str, str] = field(default_factory=dict)
    public: bool = False  # with bearer auth: anonymous tokens may pull, as on Docker Hub
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)  # blobs served with a flipped byte
    blob_gets: Counter[str] = field(default_factory=Counter)
    blob_delay: float = 0.0
    tokens_issued: int = 0
    _uploads: dict[str, str] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_image(self, repo: str, tag: str, image: BuiltImage) -> None:
        self.blobs.update(image.blobs)
        self.blobs[image.manifest_digest] = image.manifest
        self.manifests[(repo, tag)] = (image.manifest, image.media_type)
        self.manifests[(repo, image.manifest_digest)] = (image.manifest, image.media_type)

    def add_manifest(self, repo: str, tag: str, data: bytes, media_type: str) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.manifests[(repo, tag)] = (data, media_type)
        self.manifests[(repo, digest)] = (data, media_type)
        return digest

    # --- auth ---

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not self.auth:
            return True
        if self.auth == "basic" and header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return self.users.get(user) == password
        if self.auth == "bearer":
            allowed = {"Bearer good-token"}
            if self.public and request.method in ("GET", "HEAD"):
                allowed.add("Bearer anonymous-token")
            return header in allowed
        return False

    def _challenge(self, request: web.Request, name: str) -> web.Response:
        if self.auth == "basic":
            value = 'Basic realm="fake"'
        else:
            value = (
                f'Bearer realm="http://{self.host}/token",service="fake",'
                f'scope="repository:{name}:pull"'
            )
        body = json.dumps(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        )
        return web.Response(
            status=401,
            text=body,
            headers={"WWW-Authenticate": value},
            content_type="application/json",
        )

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def token(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(user) != password:
                return web.Response(status=401)
            self.tokens_issued += 1
            return web.json_response({"token": "good-token", "expires_in": 300})
        # Anonymous: a token that grants nothing.
        return web.json_response({"token": "anonymous-token"})

    # --- the API ---

    def _not_found(self, code: str) -> web.Response:
        body = json.dumps({"errors": [{"code": code, "message": "not known to registry"}]})
        return web.Response(status=404, text=body, content_type="application/json")

    async def manifest(self, request: web.Request) -> web.Response:
        name, ref = request.match_info["name"], request.match_info["ref"]
        if not self._authorized(request):
            return self._challenge(request, name)
        if request.method == "PUT":
            data = await request.read()
            digest = self.add_manifest(name, ref, data, request.content_type)
            return web.Response(status=201, headers={"Docker-Content-Digest": digest})
        found = self.manifests.get((name, ref))
        if found is None:
            return self._not_found("MANIFEST_UNKNOWN")
        data, media_type = found
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return web.Response(
            body=data, headers={"Content-Type": media_type, "Docker-Content-Digest": digest}
        )

    async def blob(self, request: web.Request) -> web.StreamResponse:
        name, digest = request.match_info["name"], request.match_info["digest"]
        if not self._authorized(request):
            return self._challenge(request, name)
        data = self.blobs.get(digest)
        if data is None:
            return self._not_found("BLOB_UNKNOWN")
        if request.method == "HEAD":
            return web.Response(headers={"Content-Length": str(len(data))})
        self.blob_gets[digest] += 1
        if digest in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if self.blob_delay:
            # Cut short by stop(), so that a test's slow blob never holds up its cleanup.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.blob_delay)
        return web.Response(body=data, content_type="application/octet-stream")

    async def start_upload(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not self._authorized(request):
            return self._challenge(request, name)
        upload = uuid.uuid4().hex
        self._uploads[upload] = name
        return web.Response(status=202, headers={"Location": f"/upload/{upload}"})

    async def finish_upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._challenge(request, "upload")
        data = await request.read()
        digest = request.query["digest"]
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return web.Response(status=400, text="DIGEST_INVALID")
        self.blobs[digest] = data
        return web.Response(status=201)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_get("/v2/", self.ping)
        app.router.add_get("/token", self.token)
        app.router.add_route("*", r"/v2/{name:.+}/manifests/{ref}", self.manifest)
        app.router.add_route("*", r"/v2/{name:.+}/blobs/uploads/", self.start_upload)
        app.router.add_route("*", r"/v2/{name:.+}/blobs/{digest:sha256:[0-9a-f]+}", self.blob)
        app.router.add_put("/upload/{id}", self.finish_upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
