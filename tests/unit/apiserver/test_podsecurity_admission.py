"""Pod Security admission over the real REST storage: namespace labels, enforcement and warnings
for pods, warnings for workloads, and the namespace update that tries a stricter level on the
pods already there. The plugin is wired in here as the API server would wire it: as validating
admission of pods, namespaces and the workloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.apiserver.auth import current_warnings
from kubelite.apiserver.podsecurity import PodSecurity
from kubelite.apiserver.podsecurity.admission import (
    POD_TEMPLATE_PATHS,
    is_significant_pod_update,
    prioritize_pods,
)

Obj = dict[str, Any]

RESTRICTED_DETAIL = (
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")'
)
RESTRICTED_REASONS = (
    "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
    "seccompProfile"
)


@pytest.fixture(autouse=True)
def _without_the_servers_plugin(stores: Stores) -> None:
    """The stores as the server assembles them carry PodSecurity already; these tests add it
    themselves (`wire`), some only after writing what an older server would have let in."""
    for resource_store in stores.by_resource.values():
        resource_store.validating[:] = [
            check
            for check in resource_store.validating
            if not isinstance(getattr(check, "__self__", None), PodSecurity)
        ]


def wire(stores: Stores) -> PodSecurity:
    """PodSecurity, run as validating admission of pods, namespaces and workloads."""
    plugin = PodSecurity(stores.store, stores.of("namespaces").resource)
    stores.of("pods").validating.append(plugin.pods)
    stores.of("namespaces").validating.append(plugin.namespaces)
    for group, plural in POD_TEMPLATE_PATHS:
        stores.of(plural, group).validating.append(plugin.workloads)
    return plugin


@pytest.fixture
def psa(stores: Stores) -> PodSecurity:
    return wire(stores)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The `Warning` headers of the request the test stands for."""
    sent: list[str] = []
    token = current_warnings.set(sent)
    yield sent
    current_warnings.reset(token)


def pod(name: str, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def restricted_pod(name: str) -> Obj:
    return pod(
        name,
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        containers=[
            {
                "name": "c",
                "image": "nginx",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    )


def deployment(name: str) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def pod_security_labels(**labels: str) -> dict[str, str]:
    """`enforce_version="v1.30"` -> `pod-security.kubernetes.io/enforce-version: v1.30`."""
    return {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}


async def namespace(stores: Stores, name: str, **labels: str) -> Obj:
    body = {"metadata": {"name": name, "labels": pod_security_labels(**labels)}}
    created = await stores.of("namespaces").create("", body)
    # The service account controller's part: ServiceAccount admission wants `default`.
    await stores.of("serviceaccounts").create(name, {"metadata": {"name": "default"}})
    return created


async def relabel(stores: Stores, name: str, **labels: str) -> Obj:
    async def mutate(current: Obj | None) -> Obj:
        assert current is not None
        current["metadata"]["labels"] = pod_security_labels(**labels)
        return current

    updated, _ = await stores.of("namespaces").update("", name, mutate)
    return updated


def changing(**changes: Any) -> Any:
    """An update's mutation: set each path (`spec__replicas`) to its value."""

    async def mutate(current: Obj | None) -> Obj:
        assert current is not None
        for path, value in changes.items():
            *parents, last = path.split("__")
            target = current
            for part in parents:
                target = target[part]
            target[last] = value
        return current

    return mutate


async def refused(call: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as err:
        await call
    return err.value


# --- namespace labels -------------------------------------------------------------------------


@pytest.mark.usefixtures("psa")
async def test_a_namespace_with_labels_that_do_not_parse_is_refused(stores: Stores) -> None:
    err = await refused(namespace(stores, "bad", enforce="strict", warn_version="1.30"))
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == (
        'Namespace "bad" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted, '
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": '
        'must be "latest" or "v1.x"]'
    )
    assert err.details is not None
    assert [c["field"] for c in err.details["causes"]] == [
        "metadata.labels[pod-security.kubernetes.io/enforce]",
        "metadata.labels[pod-security.kubernetes.io/warn-version]",
    ]


@pytest.mark.usefixtures("psa")
@pytest.mark.parametrize(
    "version", ["latest", "v1.0", "v1.25", "v1.33", "v1.34", "v1.35", "v1.36", "v1.37", "v1.40"]
)
async def test_namespace_versions_latest_and_v1_minor_are_accepted(
    stores: Stores, version: str
) -> None:
    await namespace(stores, "ok", enforce="baseline", enforce_version=version)


@pytest.mark.usefixtures("psa")
@pytest.mark.parametrize("version", ["v1.01", "v2.0", "1.25", "v1.25.0", "Latest", "v1.25\n"])
async def test_namespace_versions_of_another_form_are_refused(stores: Stores, version: str) -> None:
    err = await refused(namespace(stores, "bad", enforce_version=version))
    assert err.message.endswith('must be "latest" or "v1.x"')


async def test_an_update_keeping_the_same_bad_labels_is_admitted(stores: Stores) -> None:
    # Labelled before the plugin was there (as by an older server).
    await namespace(stores, "old", enforce="strict")
    wire(stores)
    await stores.of("namespaces").update("", "old", changing(metadata__annotations={"owner": "me"}))
    err = await refused(relabel(stores, "old", enforce="strict", audit="lax"))
    assert err.message == (
        'Namespace "old" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted, '
        'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "lax": must be '
        "one of privileged, baseline, restricted]"
    )


# --- pods: enforce and warn -------------------------------------------------------------------


@pytest.mark.usefixtures("psa")
async def test_a_pod_violating_the_enforce_level_is_forbidden(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "locked", enforce="restricted", warn="restricted")
    err = await refused(stores.of("pods").create("locked", pod("x")))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        f'pods "x" is forbidden: violates PodSecurity "restricted:latest": {RESTRICTED_DETAIL}'
    )
    assert err.details == {"name": "x", "kind": "pods"}
    # A refused request carries no warning.
    assert warnings == []


@pytest.mark.usefixtures("psa")
async def test_the_enforce_version_is_printed_as_labelled(stores: Stores) -> None:
    await namespace(stores, "pinned", enforce="baseline", enforce_version="v1.40")
    err = await refused(stores.of("pods").create("pinned", pod("x", hostNetwork=True)))
    assert err.message == (
        'pods "x" is forbidden: violates PodSecurity "baseline:v1.40": host namespaces '
        "(hostNetwork=true)"
    )


def probing_pod(name: str, host: str) -> Obj:
    return pod(
        name,
        containers=[
            {
                "name": "c",
                "image": "nginx",
                "readinessProbe": {"httpGet": {"host": host, "port": 80, "path": "/"}},
            }
        ],
    )


@pytest.mark.usefixtures("psa")
@pytest.mark.parametrize("version", ["latest", "v1.34", "v1.37"])
async def test_baseline_from_v1_34_refuses_a_probe_with_a_host(
    stores: Stores, version: str
) -> None:
    await namespace(stores, "probes", enforce="baseline", enforce_version=version)
    err = await refused(stores.of("pods").create("probes", probing_pod("x", "10.0.0.1")))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        f'pods "x" is forbidden: violates PodSecurity "baseline:{version}": probe or lifecycle '
        'host (container "c" uses probe or lifecycle host "10.0.0.1")'
    )


@pytest.mark.usefixtures("psa")
async def test_baseline_before_v1_34_admits_a_probe_with_a_host(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "probes", enforce="baseline", enforce_version="v1.33", warn="baseline")
    await stores.of("pods").create("probes", probing_pod("x", "localhost"))
    assert warnings == [
        'would violate PodSecurity "baseline:latest": probe or lifecycle host (container "c" '
        'uses probe or lifecycle host "localhost")'
    ]


def user_namespace_pod(name: str, proc_mount: str) -> Obj:
    """A pod in a user namespace that runs as root and meets the rest of restricted."""
    body = restricted_pod(name)
    body["spec"]["hostUsers"] = False
    body["spec"]["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    body["spec"]["containers"][0]["securityContext"]["procMount"] = proc_mount
    return body


@pytest.mark.usefixtures("psa")
async def test_restricted_from_v1_35_lets_a_user_namespace_pod_run_as_root(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "userns", enforce="restricted", warn="restricted", warn_version="v1.34")
    await stores.of("pods").create("userns", user_namespace_pod("root", "Default"))
    assert warnings == [
        'would violate PodSecurity "restricted:v1.34": runAsNonRoot != true (pod or container '
        '"c" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set '
        "runAsUser=0)"
    ]
    # Baseline lets it unmask /proc from v1.35 on; restricted does not.
    err = await refused(stores.of("pods").create("userns", user_namespace_pod("proc", "Unmasked")))
    assert err.message == (
        'pods "proc" is forbidden: violates PodSecurity "restricted:latest": procMount '
        '(container "c" must not set securityContext.procMount to "Unmasked")'
    )
    await relabel(stores, "userns", enforce="baseline", warn="baseline", warn_version="v1.34")
    warnings.clear()
    await stores.of("pods").create("userns", user_namespace_pod("proc", "Unmasked"))
    assert warnings == [
        'would violate PodSecurity "baseline:v1.34": procMount (container "c" must not set '
        'securityContext.procMount to "Unmasked")'
    ]


@pytest.mark.usefixtures("psa")
async def test_a_pod_meeting_the_enforce_level_is_admitted(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "locked", enforce="restricted", warn="restricted")
    await stores.of("pods").create("locked", restricted_pod("fine"))
    assert warnings == []


@pytest.mark.usefixtures("psa")
async def test_a_pod_violating_the_warn_level_is_admitted_with_a_warning(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "watched", enforce="baseline", warn="restricted")
    await stores.of("pods").create("watched", pod("x"))
    assert warnings == [f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}']
    # A baseline violation is refused there, without the warning.
    warnings.clear()
    err = await refused(stores.of("pods").create("watched", pod("y", hostPID=True)))
    assert err.message == (
        'pods "y" is forbidden: violates PodSecurity "baseline:latest": host namespaces '
        "(hostPID=true)"
    )
    assert warnings == []


@pytest.mark.usefixtures("psa")
async def test_pods_in_namespaces_without_labels_are_not_checked(
    stores: Stores, warnings: list[str]
) -> None:
    await stores.of("pods").create("default", pod("root", hostNetwork=True))
    assert warnings == []


async def test_an_enforce_label_that_does_not_parse_fails_closed(stores: Stores) -> None:
    # Labelled before the plugin was there: enforce falls back to restricted:latest.
    await namespace(stores, "odd", enforce="strict")
    wire(stores)
    err = await refused(stores.of("pods").create("odd", pod("x")))
    assert err.message.startswith('pods "x" is forbidden: violates PodSecurity "restricted:latest"')


@pytest.mark.usefixtures("psa")
async def test_warnings_outside_a_request_are_dropped(stores: Stores) -> None:
    assert current_warnings.get() is None
    await namespace(stores, "watched", warn="restricted")
    await stores.of("pods").create("watched", pod("x"))


# --- pods: which updates are evaluated --------------------------------------------------------


@pytest.mark.usefixtures("psa")
async def test_status_and_metadata_updates_of_a_violating_pod_are_admitted(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "later", enforce="privileged")
    await stores.of("pods").create("later", pod("old", hostNetwork=True))
    await relabel(stores, "later", enforce="restricted")
    warnings.clear()
    pods = stores.of("pods")
    await pods.update("later", "old", changing(status={"phase": "Running"}), subresource="status")
    await pods.update("later", "old", changing(metadata__labels={"a": "b"}))
    assert warnings == []
    # A new image is a significant update: the pod is evaluated again, and refused.

    async def new_image(current: Obj | None) -> Obj:
        assert current is not None
        current["spec"]["containers"][0]["image"] = "nginx:2"
        return current

    err = await refused(pods.update("later", "old", new_image))
    assert err.message.startswith('pods "old" is forbidden: violates PodSecurity')


@pytest.mark.parametrize(
    ("change", "significant"),
    [
        ({"labels": {"a": "b"}}, False),
        ({"status": {"phase": "Running"}}, False),
        ({"nodeName": "node-1"}, False),
        ({"tolerations": [{"operator": "Exists"}]}, False),
        ({"containers": [{"name": "c", "image": "nginx:2"}]}, True),
        ({"containers": [{"name": "c", "image": "nginx"}, {"name": "d", "image": "x"}]}, True),
        ({"initContainers": [{"name": "i", "image": "x"}]}, True),
        ({"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}, True),
        (
            {"annotations": {"container.seccomp.security.alpha.kubernetes.io/c": "unconfined"}},
            True,
        ),
        ({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}, False),
    ],
)
def test_significant_pod_updates(change: Obj, significant: bool) -> None:
    old = pod("p")
    new = orjson.loads(orjson.dumps(old))
    for key, value in change.items():
        if key in ("labels", "annotations"):
            new["metadata"][key] = value
        elif key == "status":
            new["status"] = value
        else:
            new["spec"][key] = value
    assert is_significant_pod_update(new, old) is significant


# --- workloads --------------------------------------------------------------------------------


@pytest.mark.usefixtures("psa")
async def test_a_workload_is_warned_about_and_never_refused(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "apps", enforce="restricted", warn="restricted")
    await stores.of("deployments", "apps").create("apps", deployment("web"))
    assert warnings == [f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}']


@pytest.mark.usefixtures("psa")
async def test_a_workload_in_a_namespace_that_only_enforces_gets_no_warning(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "apps", enforce="restricted")
    await stores.of("deployments", "apps").create("apps", deployment("web"))
    assert warnings == []


@pytest.mark.usefixtures("psa")
async def test_a_cronjob_is_checked_on_its_job_template(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "cron", warn="baseline")
    cronjob = {
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "c",
                                    "image": "busybox",
                                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                                }
                            ],
                        }
                    }
                }
            },
        },
    }
    await stores.of("cronjobs", "batch").create("cron", cronjob)
    assert warnings == [
        'would violate PodSecurity "baseline:latest": hostPort (container "c" uses hostPort 8080)'
    ]


@pytest.mark.usefixtures("psa")
async def test_workload_status_and_scale_writes_are_not_evaluated(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "apps", warn="restricted")
    deployments = stores.of("deployments", "apps")
    await deployments.create("apps", deployment("web"))
    warnings.clear()
    await deployments.update("apps", "web", changing(status={"replicas": 1}), subresource="status")
    await deployments.update("apps", "web", changing(spec__replicas=3), subresource="scale")
    assert warnings == []
    # An update of the object itself is (here, its labels).
    await deployments.update("apps", "web", changing(metadata__labels={"tier": "front"}))
    assert warnings == [f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}']


# --- namespaces: a stricter enforce level tried on the pods already there ----------------------


@pytest.mark.usefixtures("psa")
async def test_a_stricter_enforce_level_warns_about_existing_pods(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "team")
    pods = stores.of("pods")
    for name in ("web-b", "web-a", "web-c"):
        await pods.create("team", pod(name))
    await pods.create("team", pod("host", hostNetwork=True))
    await pods.create("team", restricted_pod("good"))
    # hostPID is another detail of the same reason as hostNetwork: one line for the three.
    await pods.create("team", pod("pid", hostPID=True))
    for name in ("priv-2", "priv-1"):
        privileged = {"name": "c", "image": "nginx", "securityContext": {"privileged": True}}
        await pods.create("team", pod(name, containers=[privileged]))
    warnings.clear()
    await relabel(stores, "team", enforce="restricted")
    assert warnings == [
        'existing pods in namespace "team" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        f"host (and 1 other pod): host namespaces, {RESTRICTED_REASONS}",
        f"priv-1 (and 1 other pod): privileged, {RESTRICTED_REASONS}",
        f"web-a (and 2 other pods): {RESTRICTED_REASONS}",
    ]


@pytest.mark.usefixtures("psa")
async def test_relaxing_or_keeping_the_enforce_level_tries_no_pod(
    stores: Stores, warnings: list[str]
) -> None:
    await namespace(stores, "team", enforce="baseline")
    await stores.of("pods").create("team", pod("web"))
    warnings.clear()
    await relabel(stores, "team", enforce="baseline", warn="restricted")
    await relabel(stores, "team", enforce="privileged")
    await relabel(stores, "team", enforce="baseline", enforce_version="v1.30")
    assert warnings == []
    # Another version of the same level is tried, even an older one.
    await relabel(stores, "team", enforce="restricted", enforce_version="v1.30")
    assert warnings == [
        'existing pods in namespace "team" violate the new PodSecurity enforce level '
        '"restricted:v1.30"',
        f"web: {RESTRICTED_REASONS}",
    ]


def test_pods_of_one_controller_come_after_one_pod_of_every_controller() -> None:
    def owned(name: str, uid: str | None) -> Obj:
        refs = [{"uid": uid, "controller": True}] if uid else []
        return {"metadata": {"name": name, "ownerReferences": refs}}

    pods = [owned("a1", "a"), owned("a2", "a"), owned("b1", "b"), owned("free", None)]
    assert [p["metadata"]["name"] for p in prioritize_pods(pods)] == ["a1", "b1", "free", "a2"]


# --- what the plugin leaves alone -------------------------------------------------------------


async def test_deletes_and_other_resources_are_left_alone(stores: Stores) -> None:
    plugin = PodSecurity(stores.store, stores.of("namespaces").resource)
    configmaps = stores.of("configmaps").resource
    await plugin.workloads("CREATE", configmaps, {"metadata": {"name": "c"}}, None)
    await plugin.pods("CREATE", configmaps, {"metadata": {"name": "c"}}, None)
    await namespace(stores, "locked", enforce="restricted")
    pods = stores.of("pods").resource
    doomed = {"metadata": {"name": "x", "namespace": "locked"}, "spec": pod("x")["spec"]}
    await plugin.pods("DELETE", pods, doomed, None)
