"""A container's security context as the kubelet works it out: pod and container fields,
the image's user, runAsNonRoot, seccomp and AppArmor profiles, fsGroup."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet import security_context as scx
from kubelite.kubelet.envvars import ConfigError
from kubelite.runtime.cri import DNSConfig, SecurityProfile, SecurityProfileType

RUNTIME_DEFAULT = SecurityProfile(SecurityProfileType.RUNTIME_DEFAULT)
UNCONFINED = SecurityProfile(SecurityProfileType.UNCONFINED)


def pod(container: dict | None = None, annotations: dict | None = None, **pod_sc: Any) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1",
                     "annotations": annotations or {}},
        "spec": {"containers": [container or {"name": "c"}], "securityContext": pod_sc},
    }  # fmt: skip


def container(**sc: Any) -> dict:
    return {"name": "c", "securityContext": sc}


def test_the_container_wins_field_by_field_and_keeps_its_own_fields() -> None:
    c = container(runAsUser=5, privileged=True)
    made = scx.effective(pod(c, runAsUser=1, runAsGroup=2, runAsNonRoot=True, fsGroup=9), c)
    assert made == {"runAsUser": 5, "runAsGroup": 2, "runAsNonRoot": True, "privileged": True}


@pytest.mark.parametrize(
    ("user", "expected"),
    [("", (0, "")), ("1000", (1000, "")), ("1000:50", (1000, "")), ("nginx", (None, "nginx")),
     ("nginx:nginx", (None, "nginx")), ("0", (0, ""))],
)  # fmt: skip
def test_the_images_user_as_the_kubelet_learns_it(user: str, expected: tuple) -> None:
    assert scx.image_user(user) == expected


@pytest.mark.parametrize(
    ("pod_sc", "c_sc", "uid", "username", "expected"),
    [
        ({}, {}, 0, "", ""),  # no runAsNonRoot
        ({"runAsNonRoot": True}, {}, 0, "",
         'container has runAsNonRoot and image will run as root (pod: "web_shop(u-1)", '
         "container: c)"),
        ({"runAsNonRoot": True}, {}, None, "nginx",
         "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user "
         'is non-root (pod: "web_shop(u-1)", container: c)'),
        ({"runAsNonRoot": True}, {}, 101, "", ""),
        ({"runAsNonRoot": True, "runAsUser": 0}, {}, 0, "",
         'container\'s runAsUser breaks non-root policy (pod: "web_shop(u-1)", container: c)'),
        ({"runAsNonRoot": True}, {"runAsUser": 7}, None, "nginx", ""),
        ({"runAsNonRoot": True}, {"runAsNonRoot": False}, 0, "", ""),  # the container allows it
    ],
)  # fmt: skip
def test_run_as_non_root_in_kubernetes_words(
    pod_sc: dict, c_sc: dict, uid: int | None, username: str, expected: str
) -> None:
    c = container(**c_sc)
    assert scx.verify_run_as_non_root(pod(c, **pod_sc), c, uid, username) == expected


def test_a_root_image_under_run_as_non_root_is_a_config_error() -> None:
    c = container()
    with pytest.raises(ConfigError, match="container has runAsNonRoot and image will run as root"):
        rc.security_context(pod(c, runAsNonRoot=True), c, image_user="")


def test_the_cri_context_takes_the_images_user_when_none_is_set() -> None:
    c = container()
    named = rc.security_context(pod(c), c, image_user="nginx:nginx")
    assert (named.run_as_user, named.run_as_username) == (None, "nginx")
    numeric = rc.security_context(pod(c, runAsGroup=3000), c, image_user="101:101")
    assert (numeric.run_as_user, numeric.run_as_group, numeric.run_as_username) == (101, 3000, "")
    root = rc.security_context(pod(c), c)
    assert root.run_as_user == 0


def test_fs_group_comes_first_among_the_supplemental_groups() -> None:
    c = container()
    made = rc.security_context(pod(c, fsGroup=2000, supplementalGroups=[4000, 5000]), c)
    assert made.supplemental_groups == [2000, 4000, 5000]


def test_proc_mount_unmasked_sends_no_masked_paths() -> None:
    default = rc.security_context(pod(), container())
    assert default.masked_paths is not None and "/proc/asound" in default.masked_paths
    assert default.readonly_paths == list(scx.DEFAULT_READONLY_PATHS)
    c = container(procMount="Unmasked")
    unmasked = rc.security_context(pod(c), c)
    assert unmasked.masked_paths == [] and unmasked.readonly_paths == []


def test_only_an_explicit_no_to_privilege_escalation_sets_no_new_privs() -> None:
    assert not rc.security_context(pod(), container()).no_new_privs
    c = container(allowPrivilegeEscalation=False)
    assert rc.security_context(pod(c), c).no_new_privs
    c = container(allowPrivilegeEscalation=True)
    assert not rc.security_context(pod(c), c).no_new_privs


@pytest.mark.parametrize(
    ("pod_profile", "own_profile", "default", "expected"),
    [
        (None, None, False, UNCONFINED),  # SeccompDefault is off in 1.33
        (None, None, True, RUNTIME_DEFAULT),
        ({"type": "RuntimeDefault"}, None, False, RUNTIME_DEFAULT),
        ({"type": "RuntimeDefault"}, {"type": "Unconfined"}, False, UNCONFINED),
        (None, {"type": "Localhost", "localhostProfile": "profiles/a.json"}, False,
         SecurityProfile(SecurityProfileType.LOCALHOST, "/var/lib/k/seccomp/profiles/a.json")),
    ],
)  # fmt: skip
def test_seccomp_profile_is_the_containers_else_the_pods_else_the_default(
    pod_profile: dict | None, own_profile: dict | None, default: bool, expected: SecurityProfile
) -> None:
    c = container(seccompProfile=own_profile) if own_profile else container()
    p = pod(c, seccompProfile=pod_profile) if pod_profile else pod(c)
    made = scx.seccomp_profile(p, c, root="/var/lib/k/seccomp", runtime_default=default)
    assert made == expected


def test_apparmor_is_the_containers_field_else_its_annotation_else_the_pods() -> None:
    annotation = {scx.APPARMOR_ANNOTATION_PREFIX + "c": "localhost/k8s-deny"}
    own = container(appArmorProfile={"type": "Unconfined"})
    assert scx.apparmor_profile(pod(own, annotation), own) == UNCONFINED
    c = container()
    from_annotation = scx.apparmor_profile(
        pod(c, annotation, appArmorProfile={"type": "RuntimeDefault"}), c
    )
    assert from_annotation == SecurityProfile(SecurityProfileType.LOCALHOST, "k8s-deny")
    assert scx.apparmor_profile(pod(c, appArmorProfile={"type": "RuntimeDefault"}), c) == (
        RUNTIME_DEFAULT
    )
    assert scx.apparmor_profile(pod(c), c) is None


@pytest.mark.parametrize(
    ("the_pod", "required"),
    [
        (pod(), False),
        (pod(appArmorProfile={"type": "Unconfined"}), False),
        (pod(appArmorProfile={"type": "RuntimeDefault"}), True),
        (pod(container(appArmorProfile={"type": "Localhost", "localhostProfile": "x"})), True),
        (pod(annotations={scx.APPARMOR_ANNOTATION_PREFIX + "c": "unconfined"}), False),
        (pod(annotations={scx.APPARMOR_ANNOTATION_PREFIX + "c": "runtime/default"}), True),
    ],
)
def test_apparmor_is_required_by_any_profile_but_unconfined(the_pod: dict, required: bool) -> None:
    assert scx.apparmor_required(the_pod) is required


def test_fs_user_is_the_uid_every_container_shares() -> None:
    two = {
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsUser": 1000},
            "initContainers": [{"name": "i"}],
            "containers": [{"name": "a"}, {"name": "b", "securityContext": {"runAsUser": 1000}}],
        },
    }
    assert scx.fs_user(two) == 1000
    two["spec"]["containers"][1]["securityContext"]["runAsUser"] = 2000
    assert scx.fs_user(two) is None
    assert scx.fs_user(pod()) is None  # no runAsUser at all


def test_the_sandbox_shares_the_nodes_pid_and_ipc_namespaces_when_asked() -> None:
    spec = pod()
    spec["spec"].update(hostPID=True, hostIPC=True)
    spec["spec"]["securityContext"]["sysctls"] = [
        {"name": "net/ipv4/conf/eth0.100/forwarding", "value": "1"}
    ]
    made = rc.sandbox_config(spec, attempt=0, dns_config=DNSConfig(), cgroup_root="/kubelite")
    assert made.host_pid and made.host_ipc and not made.host_network
    assert made.sysctls == {"net.ipv4.conf.eth0/100.forwarding": "1"}
