"""A scripted stand-in for the API client and a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from kubelite.client.api import Resource
from kubelite.client.errors import error_from_status

Obj = dict[str, Any]
Reply = Callable[["Call"], Any]


@dataclass
class Call:
    """One request the code under test made."""

    method: str
    path: str
    body: Any = None
    content_type: str = ""
    options: Obj = field(default_factory=dict)


def api_error(code: int, reason: str) -> Exception:
    """The client's exception for an error answer with this code and reason."""
    return error_from_status(
        {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": reason}
    )


class FakeClient:
    """Records requests; answers each from `replies[(method, path)]` (a list used in turn, whose
    items are values, exceptions to raise, or functions of the call), else with the body sent."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.replies: dict[tuple[str, str], list[Any]] = {}

    def reply(self, method: str, path: str, *answers: Any) -> None:
        self.replies.setdefault((method, path), []).extend(answers)

    def _answer(self, call: Call) -> Any:
        self.calls.append(call)
        queued = self.replies.get((call.method, call.path))
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer(call) if callable(answer) else answer
        body = call.body
        return orjson.loads(body) if isinstance(body, bytes) else body

    async def request(
        self, method: str, path: str, *, body: Any = None, content_type: str = "", **_: Any
    ) -> Any:
        return self._answer(Call(method, path, body, content_type))

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        return self._answer(Call("GET", resource.path(namespace=namespace, name=name)))

    async def create(self, resource: Resource, body: Obj, **options: Any) -> Obj:
        namespace = options.get("namespace") or body["metadata"].get("namespace")
        return self._answer(Call("POST", resource.path(namespace=namespace), body))

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        *,
        patch_type: Any = None,
        namespace: str | None = None,
        subresource: str | None = None,
        **_: Any,
    ) -> Obj:
        path = resource.path(namespace=namespace, name=name, subresource=subresource)
        return self._answer(Call("PATCH", path, patch, str(patch_type)))

    async def delete(
        self, resource: Resource, name: str, *, namespace: str | None = None, **options: Any
    ) -> Obj:
        path = resource.path(namespace=namespace, name=name)
        return self._answer(Call("DELETE", path, options=options))


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_767_225_600.0 + self.now  # 2026-01-01T00:00:00Z at now == 0


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
