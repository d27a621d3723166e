"""Responses leave nothing of themselves on a keep-alive connection."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubelite.apiserver import responses


class _Writes:
    """A stream writer that records the size of every write."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.data = bytearray()

    async def write(self, chunk: bytes | memoryview) -> None:
        self.sizes.append(len(chunk))
        self.data += chunk


async def test_a_large_body_goes_out_a_chunk_at_a_time() -> None:
    """asyncio's TLS buffer keeps the size of the largest single write for the connection."""
    body = bytes(range(256)) * (3 * responses.CHUNK // 256) + b"tail"
    writer = _Writes()
    await responses._Chunked(body).write(writer)  # type: ignore[arg-type]
    assert writer.sizes == [responses.CHUNK] * 3 + [4]
    assert bytes(writer.data) == body


async def test_a_sent_response_lets_go_of_its_body() -> None:
    """aiohttp keeps the last response of an idle keep-alive connection referenced."""
    sent: list[responses.Response] = []
    big = b"[" + b"0," * responses.CHUNK + b"0]"

    async def handler(request: web.Request) -> web.StreamResponse:
        size = request.query["size"]
        response = responses.Response(
            body=big if size == "big" else b"[0]", content_type="application/json"
        )
        sent.append(response)
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    async with TestClient(TestServer(app)) as client:
        for size in ("big", "small"):
            reply = await client.get("/", params={"size": size})
            assert reply.status == 200
            assert reply.headers["Content-Length"] == str(len(big if size == "big" else b"[0]"))
            assert await reply.read() == (big if size == "big" else b"[0]")
    assert [r.body for r in sent] == [None, None]
