"""downwardAPI and projected volumes: metadata files, resources, token, kube-api-access shape."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path
from typing import Any

import pytest
from volume_doubles import RecordingMounter, make_pod

from kubelite.kubelet.volumes import downward_api, projected
from kubelite.kubelet.volumes.context import VolumeContext, VolumeError


def visible(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith(".."))


def field(path: str, field_path: str, **extra: Any) -> dict:
    return {"path": path, "fieldRef": {"apiVersion": "v1", "fieldPath": field_path}, **extra}


async def test_downward_api_files(ctx: VolumeContext) -> None:
    pod = make_pod(
        containers=[{"name": "app", "resources": {"requests": {"memory": "64Mi"}}}],
    )
    ctx = dataclasses.replace(ctx, pod=pod)
    items = [
        field("labels", "metadata.labels"),
        field("annotations", "metadata.annotations", mode=0o400),
        field("name", "metadata.name"),
        field("ns", "metadata.namespace"),
        field("uid", "metadata.uid"),
        field("tier", "metadata.labels['tier']"),
        {
            "path": "mem_limit",
            "resourceFieldRef": {"containerName": "app", "resource": "limits.memory"},
        },
        {
            "path": "mem_request_mi",
            "resourceFieldRef": {
                "containerName": "app",
                "resource": "requests.memory",
                "divisor": "1Mi",
            },
        },
    ]
    mounted = await downward_api.set_up(ctx, {"name": "info", "downwardAPI": {"items": items}})
    path = mounted.path
    assert path == ctx.pod_dir / "volumes" / "kubernetes.io~downward-api" / "info"
    assert mounted.read_only is True
    assert (path / "labels").read_text() == 'app="web"\ntier="front"'  # sorted, no final newline
    assert (path / "annotations").read_text() == 'build="42"'
    assert stat.S_IMODE((path / "annotations").stat().st_mode) == 0o400
    assert stat.S_IMODE((path / "name").stat().st_mode) == 0o644
    assert [(path / n).read_text() for n in ("name", "ns", "uid", "tier")] == [
        "web",
        "default",
        "uid-1",
        "front",
    ]
    # No memory limit: the node's allocatable memory (1Gi) stands in.
    assert (path / "mem_limit").read_text() == str(1 << 30)
    assert (path / "mem_request_mi").read_text() == "64"


async def test_downward_api_reports_every_bad_item(ctx: VolumeContext) -> None:
    items = [
        field("a", "spec.nodeName"),  # env vars may read it, volumes may not
        {"path": "b", "resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}},
    ]
    with pytest.raises(VolumeError) as caught:
        await downward_api.set_up(ctx, {"name": "info", "downwardAPI": {"items": items}})
    assert str(caught.value) == "[unsupported fieldPath: spec.nodeName, container ghost not found]"


class Tokens:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    async def __call__(self, audience: str, expiration: int, pod: dict) -> str:
        self.calls.append((audience, expiration, pod["metadata"]["name"]))
        return f"token-for-{audience or 'api'}"


KUBE_API_ACCESS = {
    "name": "kube-api-access-x7k2p",
    "projected": {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
    },
}


async def test_kube_api_access_volume(ctx: VolumeContext) -> None:
    tokens = Tokens()
    ctx = dataclasses.replace(ctx, token_source=tokens)
    mounted = await projected.set_up(ctx, KUBE_API_ACCESS)
    path = mounted.path
    assert path == ctx.pod_dir / "volumes" / "kubernetes.io~projected" / "kube-api-access-x7k2p"
    assert mounted.read_only is True
    assert visible(path) == ["ca.crt", "namespace", "token"]
    assert (path / "token").read_text() == "token-for-api"
    assert (path / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (path / "namespace").read_text() == "default"
    assert all(stat.S_IMODE((path / n).stat().st_mode) == 0o644 for n in visible(path))
    assert tokens.calls == [("", 3607, "web")]
    mounter = ctx.mounter
    assert isinstance(mounter, RecordingMounter)
    assert [p for p, _ in mounter.mount_calls] == [path]  # in memory, like secrets


async def test_token_defaults_and_audience(ctx: VolumeContext) -> None:
    tokens = Tokens()
    ctx = dataclasses.replace(ctx, token_source=lambda a, e, p: f"sync-{a}-{e}")
    source = {"sources": [{"serviceAccountToken": {"audience": "vault", "path": "t"}}]}
    mounted = await projected.set_up(ctx, {"name": "v", "projected": source})
    assert (mounted.path / "t").read_text() == "sync-vault-3600"
    assert tokens.calls == []


async def test_later_sources_replace_earlier_files(ctx: VolumeContext) -> None:
    source = {
        "sources": [
            {"configMap": {"name": "cfg", "items": [{"key": "mode", "path": "x"}]}},
            {"secret": {"name": "creds", "items": [{"key": "user", "path": "x"}]}},
        ]
    }
    mounted = await projected.set_up(ctx, {"name": "v", "projected": source})
    assert (mounted.path / "x").read_text() == "admin"


async def test_every_failing_source_is_reported(ctx: VolumeContext) -> None:
    source = {
        "sources": [
            {"configMap": {"name": "nope"}},
            {"secret": {"name": "nope"}},
            {"secret": {"name": "nope2", "optional": True}},
            {"serviceAccountToken": {"path": "token"}},
        ]
    }
    with pytest.raises(VolumeError) as caught:
        await projected.set_up(ctx, {"name": "v", "projected": source})
    assert str(caught.value) == (
        '[configmap "nope" not found, secret "nope" not found, '
        "failed to fetch token: no token source configured]"
    )


async def test_token_failures_are_reported(ctx: VolumeContext) -> None:
    def refuse(audience: str, expiration: int, pod: dict) -> str:
        raise RuntimeError('serviceaccounts "default" is forbidden')

    ctx = dataclasses.replace(ctx, token_source=refuse)
    source = {"sources": [{"serviceAccountToken": {"path": "token"}}]}
    with pytest.raises(VolumeError) as caught:
        await projected.set_up(ctx, {"name": "v", "projected": source})
    assert str(caught.value) == 'failed to fetch token: serviceaccounts "default" is forbidden'
