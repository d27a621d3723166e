"""ServiceAccount admission over the real REST storage: the account must exist, its token is
mounted unless the pod or the account says not to, its pull secrets are lent to the pod, its
mountable secrets are enforced when it asks, and mirror pods name none of it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.api.types import Obj
from kubelite.apiserver import serviceaccount_admission
from kubelite.apiserver.registry import DeleteOptions
from kubelite.apiserver.registry.generic import ResourceStore

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod(name: str = "p", **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
    }
    return body


@pytest.fixture
async def team(stores: Stores) -> str:
    """A namespace whose `default` account exists, as the controller makes it."""
    await stores.namespace("team")
    return "team"


@pytest.fixture
def pods(stores: Stores) -> ResourceStore:
    return stores.of("pods")


async def account(stores: Stores, namespace: str, name: str, **fields: Any) -> Obj:
    body: Obj = {"metadata": {"name": name, **fields.pop("metadata", {})}, **fields}
    return await stores.of("serviceaccounts").create(namespace, body)


async def refusal(pods: ResourceStore, namespace: str, body: Obj) -> str:
    with pytest.raises(errors.StatusError) as caught:
        await pods.create(namespace, body)
    assert (caught.value.code, caught.value.reason) == (403, "Forbidden")
    return caught.value.message


async def test_a_pod_runs_as_default_and_gets_the_token_volume(
    pods: ResourceStore, team: str
) -> None:
    created = await pods.create(team, pod())
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    sources = volume["projected"]["sources"]
    assert sources[0]["serviceAccountToken"] == {"expirationSeconds": 3607, "path": "token"}
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_PATH}
    ]


async def test_a_pod_naming_a_missing_account_is_forbidden(pods: ResourceStore, team: str) -> None:
    started = time.monotonic()
    message = await refusal(pods, team, pod(serviceAccountName="robot"))
    assert message == (
        'pods "p" is forbidden: error looking up service account team/robot: '
        'serviceaccount "robot" not found'
    )
    # Only `default` is waited for: a named account is looked up once.
    assert time.monotonic() - started < 0.5


async def test_the_default_account_is_waited_for_then_refused(
    stores: Stores, pods: ResourceStore
) -> None:
    await stores.of("namespaces").create("", {"metadata": {"name": "fresh"}})
    started = time.monotonic()
    message = await refusal(pods, "fresh", pod())
    assert message == (
        'pods "p" is forbidden: error looking up service account fresh/default: '
        'serviceaccount "default" not found'
    )
    # Ten asks, nine pauses of 100 to 200 ms.
    assert 0.9 <= time.monotonic() - started < 2.5


async def test_a_default_account_made_while_the_pod_waits_admits_it(
    stores: Stores, pods: ResourceStore
) -> None:
    await stores.of("namespaces").create("", {"metadata": {"name": "racing"}})
    creating = asyncio.ensure_future(pods.create("racing", pod()))
    await asyncio.sleep(0.3)
    assert not creating.done()
    await account(stores, "racing", "default")
    created = await asyncio.wait_for(creating, 5)
    assert created["spec"]["serviceAccountName"] == "default"


async def test_the_account_can_turn_the_token_off(
    stores: Stores, pods: ResourceStore, team: str
) -> None:
    await account(stores, team, "quiet", automountServiceAccountToken=False)
    created = await pods.create(team, pod(serviceAccountName="quiet"))
    assert "volumes" not in created["spec"]
    assert "volumeMounts" not in created["spec"]["containers"][0]


async def test_the_pods_own_word_wins_over_the_accounts(
    stores: Stores, pods: ResourceStore, team: str
) -> None:
    await account(stores, team, "quiet", automountServiceAccountToken=False)
    created = await pods.create(
        team, pod(serviceAccountName="quiet", automountServiceAccountToken=True)
    )
    assert created["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    off = await pods.create(team, pod("off", automountServiceAccountToken=False))
    assert "volumes" not in off["spec"]


async def test_the_accounts_pull_secrets_are_lent_to_a_pod_without_any(
    stores: Stores, pods: ResourceStore, team: str
) -> None:
    await account(stores, team, "puller", imagePullSecrets=[{"name": "registry"}])
    lent = await pods.create(team, pod(serviceAccountName="puller"))
    assert lent["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    own = await pods.create(
        team, pod("own", serviceAccountName="puller", imagePullSecrets=[{"name": "mine"}])
    )
    assert own["spec"]["imagePullSecrets"] == [{"name": "mine"}]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {"volumes": [{"name": "v", "secret": {"secretName": "other"}}]},
            'volume with secret.secretName="other" is not allowed because service account '
            "strict does not reference that secret",
        ),
        (
            {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "env": [
                            {
                                "name": "PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}},
                            }
                        ],
                    }
                ]
            },
            'container c with envVar PASSWORD referencing secret.secretName="other" is not '
            "allowed because service account strict does not reference that secret",
        ),
        (
            {
                "initContainers": [
                    {"name": "init", "image": "i", "envFrom": [{"secretRef": {"name": "other"}}]}
                ]
            },
            'init container init with envFrom referencing secret.secretName="other" is not '
            "allowed because service account strict does not reference that secret",
        ),
        (
            {"imagePullSecrets": [{"name": "other"}]},
            'imagePullSecrets[0].name="other" is not allowed because service account strict '
            "does not reference that imagePullSecret",
        ),
    ],
)
async def test_an_account_enforcing_mountable_secrets_refuses_others(
    stores: Stores, pods: ResourceStore, team: str, spec: Obj, problem: str
) -> None:
    await account(
        stores,
        team,
        "strict",
        metadata={"annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}},
        secrets=[{"name": "allowed"}],
    )
    message = await refusal(pods, team, pod(serviceAccountName="strict", **spec))
    assert message == f'pods "p" is forbidden: {problem}'
    allowed = pod(
        "ok",
        serviceAccountName="strict",
        volumes=[{"name": "v", "secret": {"secretName": "allowed"}}],
    )
    assert (await pods.create(team, allowed))["metadata"]["name"] == "ok"


async def test_enforcement_needs_the_annotation_to_parse_true(
    stores: Stores, pods: ResourceStore, team: str
) -> None:
    await account(
        stores,
        team,
        "lax",
        metadata={"annotations": {"kubernetes.io/enforce-mountable-secrets": "yes"}},
    )
    body = pod(serviceAccountName="lax", volumes=[{"name": "v", "secret": {"secretName": "x"}}])
    assert (await pods.create(team, body))["metadata"]["name"] == "p"


MIRROR = {"kubernetes.io/config.mirror": "hash"}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"serviceAccountName": "robot"}, "a mirror pod may not reference service accounts"),
        (
            {
                "containers": [
                    {"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "s"}}]}
                ]
            },
            "a mirror pod may not reference secrets",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]},
                    }
                ]
            },
            "a mirror pod may not use ServiceAccountToken volume projections",
        ),
    ],
)
async def test_a_mirror_pod_names_no_account_secret_or_token(
    pods: ResourceStore, team: str, spec: Obj, problem: str
) -> None:
    body = pod("static", **spec)
    body["metadata"]["annotations"] = MIRROR
    assert await refusal(pods, team, body) == f'pods "static" is forbidden: {problem}'


async def test_a_mirror_pod_gets_no_account_and_no_token(pods: ResourceStore, team: str) -> None:
    body = pod("static", nodeName="n1")
    body["metadata"]["annotations"] = MIRROR
    created = await pods.create(team, body)
    assert "serviceAccountName" not in created["spec"]
    assert "volumes" not in created["spec"]


async def test_updates_are_not_looked_at(stores: Stores, pods: ResourceStore, team: str) -> None:
    await pods.create(team, pod())
    await stores.of("serviceaccounts").delete(team, "default", DeleteOptions())

    async def relabel(current: Obj | None) -> Obj:
        assert current is not None
        current["metadata"]["labels"] = {"changed": "yes"}
        return current

    updated, _ = await pods.update(team, "p", relabel)
    assert updated["metadata"]["labels"] == {"changed": "yes"}


def test_parse_bool_is_gos() -> None:
    for word in ("1", "t", "T", "TRUE", "true", "True"):
        assert serviceaccount_admission._go_parse_bool(word)
    for word in ("0", "false", "yes", "on", ""):
        assert not serviceaccount_admission._go_parse_bool(word)
