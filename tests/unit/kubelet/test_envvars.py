"""The container environment rules of kubelet_pods.go makeEnvironmentVariables and expand.go."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelite.kubelet.envvars import (
    INVALID_ENV_VAR_NAMES,
    ConfigError,
    container_env,
    container_resource_value,
    expand,
    expand_command,
    format_map,
    go_quote,
    is_env_var_name,
    pod_field_value,
)

Obj = dict[str, Any]


class DictLookup:
    """ConfigMaps and Secrets from dicts keyed by (namespace, name); async like the API's."""

    def __init__(self, config_maps: dict | None = None, secrets: dict | None = None) -> None:
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}
        self.reads: list[tuple[str, str, str]] = []

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        self.reads.append(("configmap", namespace, name))
        return self.config_maps.get((namespace, name))

    def secret(self, namespace: str, name: str) -> Obj | None:  # a sync one works too
        self.reads.append(("secret", namespace, name))
        return self.secrets.get((namespace, name))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def make_pod(container: Obj, **spec: Any) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "1234-abcd",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": 'say "hi"\n'},
        },
        "spec": {
            "nodeName": "node-1",
            "serviceAccountName": "builder",
            "containers": [container],
            **spec,
        },
    }


LOOKUP = DictLookup(
    config_maps={
        ("default", "cm"): {"data": {"A": "from-cm", "B": "b", "1bad": "x", "ok.name": "y"}},
        ("default", "other"): {"data": {"A": "from-other", "C": "c"}},
    },
    secrets={("default", "s"): {"data": {"PASSWORD": b64("hunter2"), "bad key": b64("z")}}},
)


async def env_of(container: Obj, lookup: DictLookup = LOOKUP, **kwargs: Any) -> list:
    pod = make_pod(container)
    return (await container_env(pod, container, lookup=lookup, **kwargs)).env


# --- expansion (expand_test.go's cases, re-expressed) -------------------------------------------

CONTEXT = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)-1", "A-1"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
        ("$(VAR_REF)", "$(VAR_A)"),  # values are not expanded again
        ("$(VAR_EMPTY)", ""),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),  # $$ escapes
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$$$$$$", "$$$"),
        ("$", "$"),
        ("$$", "$"),
        ("foo$", "foo$"),
        ("$(", "$("),
        ("$(VAR_A", "$(VAR_A"),
        ("$(VAR_A)$(", "A$("),
        ("$()", "$()"),
        ("$(VAR_A)$", "A$"),
        ("$VAR_A", "$VAR_A"),  # a $ that starts nothing stays
        ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
        ("$(VAR_A)()", "A()"),
        ("f00__(VAR_A)__", "f00__(VAR_A)__"),
        ("$(?_boo_$)", "$(?_boo_$)"),
        ("$(:)", "$(:)"),
        ("ünïcödé $(VAR_A)", "ünïcödé A"),
    ],
)
def test_expand_follows_kubernetes_rules(text: str, expected: str) -> None:
    assert expand(text, CONTEXT) == expected


def test_expand_takes_the_first_context_that_defines_a_name() -> None:
    assert expand("$(X)-$(Y)", {"X": "pod"}, {"X": "svc", "Y": "svc"}) == "pod-svc"


def test_expand_command_uses_the_containers_environment() -> None:
    env = [("GREETING", "hello"), ("WHO", "world")]
    assert expand_command(["echo", "$(GREETING) $(WHO)", "$$(WHO)", "$(NOPE)"], env) == [
        "echo",
        "hello world",
        "$(WHO)",
        "$(NOPE)",
    ]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("A", True),
        ("a.b-c_d", True),
        ("_x", True),
        (".x", True),
        ("1bad", False),
        ("bad key", False),
        (".", False),
        ("..", False),
        ("..x", False),
        ("", False),
        ("a=b", False),
    ],
)
def test_env_var_names_are_checked_as_apimachinery_does(name: str, valid: bool) -> None:
    assert is_env_var_name(name) is valid


# --- envFrom and env ---------------------------------------------------------------------------


async def test_env_from_comes_first_and_env_overrides_it_in_place() -> None:
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}, {"configMapRef": {"name": "other"}}],
        "env": [{"name": "B", "value": "from-env"}, {"name": "D", "value": "d"}],
    }
    assert await env_of(container) == [
        ("A", "from-other"),  # the later envFrom source wins
        ("B", "from-env"),  # env wins, and keeps B's place
        ("ok.name", "y"),
        ("C", "c"),
        ("D", "d"),
    ]


async def test_env_from_prefix_and_secrets_are_decoded() -> None:
    container = {"name": "c", "envFrom": [{"secretRef": {"name": "s"}, "prefix": "DB_"}]}
    result = await container_env(make_pod(container), container, lookup=LOOKUP)
    assert result.env == [("DB_PASSWORD", "hunter2")]
    assert result.invalid_names == [
        "Keys [DB_bad key] from the EnvFrom secret default/s were skipped since they are "
        "considered invalid environment variable names."
    ]


async def test_invalid_env_from_keys_are_skipped_and_reported() -> None:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}
    result = await container_env(make_pod(container), container, lookup=LOOKUP)
    assert "1bad" not in result.as_dict()
    assert INVALID_ENV_VAR_NAMES == "InvalidEnvironmentVariableNames"
    assert result.invalid_names == [
        "Keys [1bad] from the EnvFrom configMap default/cm were skipped since they are "
        "considered invalid environment variable names."
    ]


async def test_a_prefix_can_make_keys_valid() -> None:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"}]}
    result = await container_env(make_pod(container), container, lookup=LOOKUP)
    assert result.as_dict()["P_1bad"] == "x"
    assert result.invalid_names == []


async def test_each_source_is_read_once() -> None:
    lookup = DictLookup(config_maps=LOOKUP.config_maps)
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "A"}}}],
    }
    await env_of(container, lookup)
    assert lookup.reads == [("configmap", "default", "cm")]


async def test_values_expand_against_variables_defined_before_them() -> None:
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "other"}}],
        "env": [
            {"name": "FIRST", "value": "$(SECOND)-$(C)"},  # SECOND is not defined yet
            {"name": "SECOND", "value": "two"},
            {"name": "THIRD", "value": "$(SECOND)/$(FIRST)/$$(SECOND)/$(SVC_HOST)"},
            {"name": "EMPTY"},
        ],
    }
    env = dict(await env_of(container, service_env={"SVC_HOST": "10.0.0.1", "C": "svc-c"}))
    assert env["FIRST"] == "$(SECOND)-c"  # the pod's C wins over the service's
    assert env["THIRD"] == "two/$(SECOND)-c/$(SECOND)/10.0.0.1"
    assert env["EMPTY"] == ""


async def test_service_variables_come_last_unless_the_pod_defines_them() -> None:
    container = {"name": "c", "env": [{"name": "KUBERNETES_PORT", "value": "mine"}]}
    env = await env_of(container, service_env={"KUBERNETES_PORT": "svc", "KUBERNETES_HOST": "h"})
    assert env == [("KUBERNETES_PORT", "mine"), ("KUBERNETES_HOST", "h")]


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ({"configMapKeyRef": {"name": "cm", "key": "A"}}, "from-cm"),
        ({"secretKeyRef": {"name": "s", "key": "PASSWORD"}}, "hunter2"),
        ({"configMapKeyRef": {"name": "cm", "key": "nope", "optional": True}}, None),
        ({"configMapKeyRef": {"name": "missing", "key": "A", "optional": True}}, None),
        ({"secretKeyRef": {"name": "s", "key": "nope", "optional": True}}, None),
        ({"secretKeyRef": {"name": "missing", "key": "A", "optional": True}}, None),
    ],
)
async def test_key_references(value_from: Obj, expected: str | None) -> None:
    container = {"name": "c", "env": [{"name": "X", "valueFrom": value_from}]}
    assert dict(await env_of(container)).get("X") == expected


async def test_optional_missing_env_from_source_defines_nothing() -> None:
    container = {
        "name": "c",
        "envFrom": [
            {"configMapRef": {"name": "missing", "optional": True}},
            {"secretRef": {"name": "missing", "optional": True}},
        ],
    }
    assert await env_of(container) == []


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"envFrom": [{"configMapRef": {"name": "x"}}]}, 'configmap "x" not found'),
        ({"envFrom": [{"secretRef": {"name": "x"}}]}, 'secret "x" not found'),
        (
            {"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}]},
            'configmap "x" not found',
        ),
        (
            {"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]},
            "couldn't find key k in ConfigMap default/cm",
        ),
        (
            {"env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]},
            'secret "x" not found',
        ),
        (
            {"env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
            "couldn't find key k in Secret default/s",
        ),
    ],
)
async def test_missing_required_references_fail_with_the_kubelets_message(
    container: Obj, message: str
) -> None:
    container = {"name": "c", **container}
    with pytest.raises(ConfigError) as caught:
        await env_of(container)
    assert str(caught.value) == message


# --- fieldRef -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("metadata.name", "web"),
        ("metadata.namespace", "default"),
        ("metadata.uid", "1234-abcd"),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['note']", 'say "hi"\n'),
        ("metadata.labels", 'app="web"\ntier="front"'),
        ("metadata.annotations", 'note="say \\"hi\\"\\n"'),
        ("spec.nodeName", "node-1"),
        ("spec.host", "node-1"),
        ("spec.serviceAccountName", "builder"),
        ("status.hostIP", "192.168.1.10"),
        ("status.hostIPs", "192.168.1.10,fd00::10"),
        ("status.podIP", "10.88.0.5"),
        ("status.podIPs", "10.88.0.5,fd01::5"),
    ],
)
def test_field_refs(path: str, expected: str) -> None:
    pod = make_pod({"name": "c"})
    value = pod_field_value(
        pod,
        {"apiVersion": "v1", "fieldPath": path},
        pod_ips=["10.88.0.5", "fd01::5"],
        host_ips=["192.168.1.10", "fd00::10"],
    )
    assert value == expected


@pytest.mark.parametrize(
    ("field_ref", "message"),
    [
        ({"apiVersion": "v2", "fieldPath": "metadata.name"}, "unsupported pod version: v2"),
        ({"fieldPath": "spec.containers"}, "field label not supported: spec.containers"),
        ({"fieldPath": "metadata.name['x']"}, "field label does not support subscript: "),
        ({"fieldPath": "status.phase"}, "unsupported fieldPath: status.phase"),
    ],
)
def test_unsupported_field_refs(field_ref: Obj, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        pod_field_value(make_pod({"name": "c"}), field_ref)


async def test_field_refs_in_env_see_the_pods_ips() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "URL", "value": "http://$(IP):80"},
        ],
    }
    env = dict(await env_of(container, pod_ips=["10.88.0.9"]))
    assert env == {"IP": "10.88.0.9", "NODE": "node-1", "URL": "http://10.88.0.9:80"}


def test_format_map_quotes_like_go() -> None:
    assert format_map({}) == ""
    assert format_map({"b": "2", "a": "1"}) == 'a="1"\nb="2"'
    assert go_quote('tab\there "q" \\ é \x00 \x7f \u200b') == (
        '"tab\\there \\"q\\" \\\\ é \\x00 \\x7f \\u200b"'
    )


# --- resourceFieldRef -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "divisor", "expected"),
    [
        ("limits.cpu", None, "1"),  # 250m rounds up to one CPU
        ("limits.cpu", "1m", "250"),
        ("limits.cpu", "100m", "3"),
        ("requests.cpu", "1m", "125"),
        ("requests.cpu", "0", "1"),  # a zero divisor means 1
        ("limits.memory", None, "134217728"),
        ("limits.memory", "1Mi", "128"),
        ("limits.memory", "1M", "135"),
        ("limits.memory", "1Gi", "1"),
        ("requests.memory", "1Mi", "64"),
        ("limits.ephemeral-storage", "1Gi", "2"),
        ("requests.ephemeral-storage", "1Ki", "0"),  # unset is 0
        ("limits.hugepages-2Mi", "1Mi", "4"),
    ],
)
def test_resource_values_are_divided_and_rounded_up(
    resource: str, divisor: str | None, expected: str
) -> None:
    container = {
        "name": "c",
        "resources": {
            "limits": {
                "cpu": "250m",
                "memory": "128Mi",
                "ephemeral-storage": "2Gi",
                "hugepages-2Mi": "4Mi",
            },
            "requests": {"cpu": "125m", "memory": "64Mi"},
        },
    }
    ref = {"resource": resource, **({"divisor": divisor} if divisor is not None else {})}
    assert container_resource_value(ref, container) == expected


def test_unknown_resources_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        container_resource_value({"resource": "limits.gpu"}, {"name": "c"})
    assert str(caught.value) == "unsupported container resource : limits.gpu"


NODE = {"status": {"allocatable": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"}}}


async def test_unset_limits_default_to_node_allocatable() -> None:
    container = {
        "name": "c",
        "resources": {"limits": {"memory": "0"}, "requests": {"cpu": "100m"}},
        "env": [
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
        ],
    }
    assert dict(await env_of(container, node=NODE)) == {"CPU": "2", "MEM": "4096", "REQ": "1"}


async def test_resource_refs_may_name_another_container() -> None:
    sidecar = {"name": "side", "resources": {"limits": {"memory": "32Mi"}}}
    container = {
        "name": "c",
        "env": [
            {
                "name": "SIDE_MEM",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "side",
                        "resource": "limits.memory",
                        "divisor": "1Mi",
                    }
                },
            },
            {
                "name": "GHOST",
                "valueFrom": {"resourceFieldRef": {"containerName": "x", "resource": "limits.cpu"}},
            },
        ],
    }
    pod = make_pod(container)
    pod["spec"]["containers"].append(sidecar)
    with pytest.raises(ConfigError, match="container x not found"):
        await container_env(pod, container, lookup=LOOKUP, node=NODE)
    container["env"].pop()
    result = await container_env(pod, container, lookup=LOOKUP, node=NODE)
    assert result.env == [("SIDE_MEM", "32")]
