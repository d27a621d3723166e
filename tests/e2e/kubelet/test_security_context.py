"""Containers are confined as their securityContext says, on a real node: users and groups,
capabilities, a read-only root, seccomp profiles, privileged devices, runAsNonRoot, fsGroup
ownership, host namespaces, and the pods the kubelet refuses to admit (sysctls, AppArmor,
user namespaces)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, get_pod, pod_ready, wait_for
from kubelite.runtime.oci import apparmor

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _pod(name: str, containers: list[dict], **spec: object) -> str:
    """A pod manifest (JSON is YAML) that runs once: `restartPolicy: Never`."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": containers, **spec},
        }
    )  # fmt: skip


def _busybox(name: str, script: str, **security: object) -> dict:
    container: dict = {"name": name, "image": "busybox", "command": ["sh", "-c", script]}
    if security:
        container["securityContext"] = security
    return container


def _finished(node: Cluster, name: str) -> dict | bool:
    """The pod once every container has terminated."""
    pod = get_pod(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    done = statuses and all(s["state"].get("terminated") for s in statuses)
    return bool(done) and pod


def _exit_codes(pod: dict) -> dict[str, int]:
    return {
        s["name"]: s["state"]["terminated"]["exitCode"] for s in pod["status"]["containerStatuses"]
    }


def _logs(node: Cluster, pod: str, container: str) -> str:
    return node.kubectl("logs", pod, "-c", container).stdout


def _waiting(node: Cluster, name: str, reason: str) -> dict | bool:
    pod = get_pod(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    waiting = statuses[0]["state"].get("waiting") if statuses else None
    return bool(waiting and waiting.get("reason") == reason) and waiting


def _events(node: Cluster, name: str) -> str:
    return node.kubectl("events", "--for", f"pod/{name}").stdout


@pytest.fixture
def pods(node: Cluster) -> Iterator[list[str]]:
    """Names of the pods a test made, deleted after it whatever happened."""
    made: list[str] = []
    yield made
    if made:
        # kubectl's own timeout first, so that a slow deletion fails here, not the subprocess.
        node.kubectl(
            "delete", "pod", *made, "--grace-period=1", "--timeout=60s", "--wait=true",
            check=False, timeout=90,
        )  # fmt: skip


def _run(node: Cluster, pods: list[str], name: str, containers: list[dict], **spec: object) -> dict:
    pods.append(name)
    apply_manifest(node, _pod(name, containers, **spec))
    try:
        return wait_for(f"{name} to finish", lambda: _finished(node, name))
    except AssertionError as e:
        # Say why: a container that never ran shows its waiting reason and the events.
        status = json.dumps(get_pod(node, name)["status"].get("containerStatuses"), indent=1)
        raise AssertionError(f"{e}\n{status}\n{_events(node, name)}") from e


def test_run_as_user_group_and_groups_show_in_id(node: Cluster, pods: list[str]) -> None:
    _run(
        node,
        pods,
        "sc-id",
        [_busybox("main", "id")],
        securityContext={
            "runAsUser": 1000,
            "runAsGroup": 3000,
            "fsGroup": 2000,
            "supplementalGroups": [4000],
        },
    )
    # The primary group is among the groups, fsGroup and supplementalGroups join them, sorted,
    # as containerd gives them.
    assert _logs(node, "sc-id", "main").strip() == "uid=1000 gid=3000 groups=2000,3000,4000"


def test_dropping_net_raw_stops_ping(node: Cluster, pods: list[str]) -> None:
    ping = "ping -c1 -W2 127.0.0.1"
    pod = _run(
        node,
        pods,
        "sc-netraw",
        [
            _busybox("with", ping),
            _busybox("without", ping, capabilities={"drop": ["NET_RAW"]}),
        ],
    )
    assert _exit_codes(pod) == {"with": 0, "without": 1}
    assert "permission denied" in _logs(node, "sc-netraw", "without")


def test_a_read_only_root_refuses_writes_but_volumes_take_them(
    node: Cluster, pods: list[str]
) -> None:
    container = _busybox("main", "touch /data/ok && touch /forbidden", readOnlyRootFilesystem=True)
    container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod = _run(node, pods, "sc-ro", [container], volumes=[{"name": "data", "emptyDir": {}}])
    assert _exit_codes(pod) == {"main": 1}
    assert "Read-only file system" in _logs(node, "sc-ro", "main")


def test_runtime_default_seccomp_blocks_unshare_that_unconfined_allows(
    node: Cluster, pods: list[str]
) -> None:
    unshare = "unshare -U true"
    status = "grep Seccomp: /proc/self/status"
    pod = _run(
        node,
        pods,
        "sc-seccomp",
        [
            _busybox("inherits", f"{status}; {unshare}"),  # the pod's RuntimeDefault
            _busybox("own", unshare, seccompProfile={"type": "Unconfined"}),
        ],
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
    )
    assert _exit_codes(pod) == {"inherits": 1, "own": 0}
    logs = _logs(node, "sc-seccomp", "inherits")
    assert "Seccomp:\t2" in logs and "Operation not permitted" in logs
    # Commands run in a confined container (exec probes, kubectl exec) are confined too.
    pods.append("sc-seccomp-exec")
    apply_manifest(
        node,
        _pod(
            "sc-seccomp-exec",
            [_busybox("main", "sleep 3600", seccompProfile={"type": "RuntimeDefault"})],
        ),
    )
    wait_for("sc-seccomp-exec to run", lambda: pod_ready(node, "sc-seccomp-exec"))
    done = node.kubectl("exec", "sc-seccomp-exec", "--", "sh", "-c", unshare, check=False)
    assert done.returncode != 0 and "Operation not permitted" in done.stderr
    # No profile anywhere: Unconfined, the kubelet's default without SeccompDefault.
    pod = _run(node, pods, "sc-seccomp-unset", [_busybox("main", f"{status}; {unshare}")])
    assert _exit_codes(pod) == {"main": 0}
    assert "Seccomp:\t0" in _logs(node, "sc-seccomp-unset", "main")


def test_a_localhost_seccomp_profile_applies_and_a_missing_one_fails_the_container(
    node: Cluster, pods: list[str]
) -> None:
    profiles = node.data_dir / "kubelet" / "seccomp" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "no-mkdir.json").write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ],
            }
        )
    )
    pod = _run(
        node,
        pods,
        "sc-localhost",
        [
            _busybox(
                "main",
                "mkdir /tmp/x",
                seccompProfile={"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"},
            )
        ],
    )
    assert _exit_codes(pod) == {"main": 1}
    assert "Operation not permitted" in _logs(node, "sc-localhost", "main")

    pods.append("sc-nofile")
    apply_manifest(
        node,
        _pod(
            "sc-nofile",
            [
                _busybox(
                    "main",
                    "true",
                    seccompProfile={"type": "Localhost", "localhostProfile": "profiles/none.json"},
                )
            ],
        ),
    )
    waiting = wait_for(
        "CreateContainerError", lambda: _waiting(node, "sc-nofile", "CreateContainerError")
    )
    missing = profiles / "none.json"
    assert waiting["message"].endswith(
        f'failed to generate spec: cannot load seccomp profile "{missing}": '
        f"open {missing}: no such file or directory"
    )
    assert "Error: failed to generate container" in _events(node, "sc-nofile")


def test_privileged_containers_see_host_devices_and_others_do_not(
    node: Cluster, pods: list[str]
) -> None:
    device = next(
        (p for p in sorted(Path("/dev").glob("loop*")) if p.is_block_device()), Path("/dev/kmsg")
    )
    check = f"test -e {device}"
    sysfs = "grep ' /sys sysfs ' /proc/mounts"
    pod = _run(
        node,
        pods,
        "sc-devices",
        [
            _busybox("privileged", f"{sysfs}; {check}", privileged=True),
            _busybox("plain", f"{sysfs}; {check}"),
            _busybox("defaults", "test -c /dev/null && test -c /dev/urandom && test -c /dev/tty"),
        ],
    )
    assert _exit_codes(pod) == {"privileged": 0, "plain": 1, "defaults": 0}
    # /sys is writable for the privileged container only.
    assert _logs(node, "sc-devices", "privileged").startswith("sysfs /sys sysfs rw,")
    assert _logs(node, "sc-devices", "plain").startswith("sysfs /sys sysfs ro,")


def test_run_as_non_root_refuses_a_root_image(node: Cluster, pods: list[str]) -> None:
    pods.extend(["sc-nonroot", "sc-nonroot-ok"])
    apply_manifest(
        node,
        _pod(
            "sc-nonroot",
            [_busybox("main", "sleep 3600")],
            securityContext={"runAsNonRoot": True},
        ),
    )
    apply_manifest(
        node,
        _pod(
            "sc-nonroot-ok",
            [_busybox("main", "id -u")],
            securityContext={"runAsNonRoot": True, "runAsUser": 1234},
        ),
    )
    waiting = wait_for(
        "CreateContainerConfigError",
        lambda: _waiting(node, "sc-nonroot", "CreateContainerConfigError"),
    )
    uid = get_pod(node, "sc-nonroot")["metadata"]["uid"]
    message = (
        "container has runAsNonRoot and image will run as root "
        f'(pod: "sc-nonroot_default({uid})", container: main)'
    )
    assert waiting["message"] == message
    wait_for("the Failed event", lambda: f"Error: {message}" in _events(node, "sc-nonroot"))
    wait_for("the non-root pod to finish", lambda: _finished(node, "sc-nonroot-ok"))
    assert _logs(node, "sc-nonroot-ok", "main").strip() == "1234"


def test_fs_group_owns_an_empty_dir(node: Cluster, pods: list[str]) -> None:
    container = _busybox(
        "main", "stat -c '%g %a' /data && touch /data/f && stat -c '%u %g' /data/f"
    )
    container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod = _run(
        node,
        pods,
        "sc-fsgroup",
        [container],
        securityContext={"runAsUser": 1000, "fsGroup": 2000},
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    assert _exit_codes(pod) == {"main": 0}
    # The group and setgid on the directory: what the container makes there is the group's.
    assert _logs(node, "sc-fsgroup", "main").split("\n")[:2] == ["2000 2777", "1000 2000"]


def test_host_pid_and_host_ipc_share_the_nodes_namespaces(node: Cluster, pods: list[str]) -> None:
    show = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc"
    _run(node, pods, "sc-hostns", [_busybox("main", show)], hostPID=True, hostIPC=True)
    _run(node, pods, "sc-podns", [_busybox("main", show)])
    node_ns = [os.readlink(f"/proc/self/ns/{kind}") for kind in ("pid", "ipc")]
    assert _logs(node, "sc-hostns", "main").split() == node_ns
    pod_ns = _logs(node, "sc-podns", "main").split()
    assert pod_ns[0] != node_ns[0] and pod_ns[1] != node_ns[1]


def _rejected(node: Cluster, name: str) -> dict | bool:
    status = get_pod(node, name)["status"]
    return status.get("phase") == "Failed" and status


def test_an_unsafe_sysctl_is_rejected_and_a_safe_one_applied(
    node: Cluster, pods: list[str]
) -> None:
    pods.append("sc-sysctl-unsafe")
    apply_manifest(
        node,
        _pod(
            "sc-sysctl-unsafe",
            [_busybox("main", "true")],
            securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]},
        ),
    )
    status = wait_for("the rejection", lambda: _rejected(node, "sc-sysctl-unsafe"))
    assert status["reason"] == "SysctlForbidden"
    message = 'forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert status["message"] == f"Pod was rejected: {message}"
    assert message in _events(node, "sc-sysctl-unsafe")
    assert "containerStatuses" not in status  # nothing of it ever ran

    port_range = {"name": "net.ipv4.ip_local_port_range", "value": "2000 3000"}
    _run(
        node,
        pods,
        "sc-sysctl-safe",
        [_busybox("main", "cat /proc/sys/net/ipv4/ip_local_port_range")],
        securityContext={"sysctls": [port_range]},
    )
    assert _logs(node, "sc-sysctl-safe", "main").split() == ["2000", "3000"]


@pytest.mark.skipif(apparmor.is_enabled(), reason="this node enforces AppArmor")
def test_apparmor_is_refused_on_a_node_without_it(node: Cluster, pods: list[str]) -> None:
    pods.append("sc-apparmor")
    apply_manifest(
        node,
        _pod(
            "sc-apparmor",
            [_busybox("main", "true")],
            securityContext={"appArmorProfile": {"type": "RuntimeDefault"}},
        ),
    )
    status = wait_for("the rejection", lambda: _rejected(node, "sc-apparmor"))
    assert status["reason"] == "AppArmor"
    assert status["message"] == (
        "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host"
    )


def test_host_users_false_is_refused_by_a_runtime_without_id_mapped_mounts(
    node: Cluster, pods: list[str]
) -> None:
    pods.append("sc-userns")
    apply_manifest(node, _pod("sc-userns", [_busybox("main", "true")], hostUsers=False))
    message = (
        "Failed to create pod sandbox: can't set `spec.hostUsers: false`, "
        "runtime does not support user namespaces"
    )
    wait_for("FailedCreatePodSandBox", lambda: message in _events(node, "sc-userns"))
    assert get_pod(node, "sc-userns")["status"]["phase"] == "Pending"
