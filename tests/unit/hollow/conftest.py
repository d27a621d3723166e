"""The real client of the unit tests' API server, noting the requests made (and failing some
on purpose), and a clock the tests move by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from testcluster import TestCluster

from kubelite.client.api import APIClient, Resource
from kubelite.client.errors import error_from_status

Obj = dict[str, Any]


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


class Calls:
    """The real client of the unit tests' API server (`testcluster`), noting each request the
    code under test makes; `reply(method, path, error, ...)` makes the next such requests fail
    with those errors before they reach the server (a 500, say, which it would not give)."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.failures: dict[tuple[str, str], list[Exception]] = {}

    def reply(self, method: str, path: str, *errors: Exception) -> None:
        self.failures.setdefault((method, path), []).extend(errors)

    def _note(self, call: Call) -> None:
        self.calls.append(call)
        queued = self.failures.get((call.method, call.path))
        if queued:
            raise queued.pop(0)

    async def request(
        self, method: str, path: str, *, body: Any = None, content_type: str = "", **options: Any
    ) -> Any:
        self._note(Call(method, path, body, content_type))
        if content_type:
            options["content_type"] = content_type
        return await self.client.request(method, path, body=body, **options)

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        self._note(Call("GET", resource.path(namespace=namespace, name=name)))
        return await self.client.get(resource, name, namespace=namespace)

    async def list(self, resource: Resource, **options: Any) -> Obj:
        return await self.client.list(resource, **options)

    async def create(self, resource: Resource, body: Obj, **options: Any) -> Obj:
        namespace = options.get("namespace") or body["metadata"].get("namespace")
        self._note(Call("POST", resource.path(namespace=namespace), body))
        return await self.client.create(resource, body, **options)

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        *,
        patch_type: Any = None,
        namespace: str | None = None,
        subresource: str | None = None,
        **options: Any,
    ) -> Obj:
        path = resource.path(namespace=namespace, name=name, subresource=subresource)
        self._note(Call("PATCH", path, patch, str(patch_type)))
        return await self.client.patch(
            resource,
            name,
            patch,
            patch_type=patch_type,
            namespace=namespace,
            subresource=subresource,
            **options,
        )

    async def delete(
        self, resource: Resource, name: str, *, namespace: str | None = None, **options: Any
    ) -> Obj:
        self._note(Call("DELETE", resource.path(namespace=namespace, name=name), options=options))
        return await self.client.delete(resource, name, namespace=namespace, **options)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_767_225_600.0 + self.now  # 2026-01-01T00:00:00Z at now == 0


@pytest.fixture
def client(kube: TestCluster) -> Calls:
    return Calls(kube.client)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
