"""Which sysctls the kubelet lets a pod set, and the admission that rejects the others."""

from __future__ import annotations

import pytest

from kubelite.kubelet import sysctl
from kubelite.kubelet.admission import PodAdmitResult, can_admit, rejected_status


def pod(*sysctls: str, **spec: object) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {
            "containers": [{"name": "c"}],
            "securityContext": {"sysctls": [{"name": n, "value": "1"} for n in sysctls]},
            **spec,
        },
        "status": {"phase": "Pending"},
    }


def test_the_safe_set_of_kubernetes_1_37() -> None:
    assert sysctl.safe_sysctls((6, 1)) == [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    ]


def test_an_old_kernel_leaves_out_what_it_does_not_namespace() -> None:
    old = sysctl.safe_sysctls((4, 4))
    assert "net.ipv4.ip_local_reserved_ports" in old
    assert "net.ipv4.tcp_keepalive_time" not in old and "net.ipv4.tcp_fin_timeout" not in old
    # 1.37's additions: namespaced in 4.6 and 4.15.
    assert "net.ipv4.tcp_notsent_lowat" not in old
    assert "net.ipv4.tcp_slow_start_after_idle" not in sysctl.safe_sysctls((4, 14))
    assert "net.ipv4.tcp_notsent_lowat" in sysctl.safe_sysctls((4, 14))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("net.ipv4.tcp_syncookies", "net.ipv4.tcp_syncookies"),
        ("net/ipv4/tcp_syncookies", "net.ipv4.tcp_syncookies"),
        ("net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding"),
        ("kernel", "kernel"),
    ],
)
def test_slash_separated_names_become_dotted(name: str, expected: str) -> None:
    assert sysctl.dotted(name) == expected


def test_safe_sysctls_are_admitted_and_others_rejected_with_kubernetes_words() -> None:
    allow = sysctl.allowlist()
    assert allow.admit(pod("net.ipv4.ip_local_port_range", "kernel.shm_rmid_forced")).admit
    assert allow.admit(pod("net/ipv4/tcp_rmem")).admit
    assert allow.admit(pod("kernel.msgmax")) == PodAdmitResult(
        False, "SysctlForbidden", 'forbidden sysctl: "kernel.msgmax" not allowlisted'
    )


def test_host_namespaces_forbid_their_sysctls() -> None:
    allow = sysctl.allowlist(["kernel.msg*"])
    assert allow.admit(pod("net.ipv4.tcp_syncookies", hostNetwork=True)).message == (
        'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled'
    )
    assert allow.admit(pod("kernel.msgmax", hostIPC=True)).message == (
        'forbidden sysctl: "kernel.msgmax" not allowed with host ipc enabled'
    )


def test_allowed_unsafe_sysctls_take_names_and_prefixes() -> None:
    allow = sysctl.allowlist(["kernel.msg*", "net.core.somaxconn"])
    assert allow.admit(pod("kernel.msgmax", "kernel.msgmnb", "net.core.somaxconn")).admit
    assert not allow.admit(pod("net.core.rmem_max")).admit


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("vm.swappiness", 'the sysctl "vm.swappiness" are not known to be namespaced'),
        ("fs.*", 'the sysctls "fs.*" are not known to be namespaced'),
        ("Net.IPv4", "must have at most 253 characters and match regex"),
    ],
)
def test_an_unsafe_sysctl_that_is_not_namespaced_cannot_be_allowed(
    pattern: str, error: str
) -> None:
    with pytest.raises(sysctl.AllowlistError, match=error.replace(".", r"\.").replace("*", r"\*")):
        sysctl.Allowlist.of([pattern])


def test_the_first_refusal_rejects_the_pod_with_a_failed_status() -> None:
    def refuse(_: dict) -> PodAdmitResult:
        return PodAdmitResult.reject("AppArmor", "Cannot enforce AppArmor: no")

    verdict = can_admit(pod("kernel.msgmax"), [sysctl.allowlist().admit, refuse])
    assert verdict.reason == "SysctlForbidden"
    assert can_admit(pod(), [sysctl.allowlist().admit]).admit
    status = rejected_status(pod(), verdict, "BestEffort", "2026-01-01T00:00:00Z")
    assert status == {
        "phase": "Failed",
        "reason": "SysctlForbidden",
        "message": 'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted',
        "qosClass": "BestEffort",
        "startTime": "2026-01-01T00:00:00Z",
    }


def test_a_rejected_status_names_the_generation_that_was_rejected() -> None:
    """KEP-5067: a pod the kubelet refuses never syncs, so the rejection itself carries the
    observedGeneration."""
    refused = pod("kernel.msgmax")
    refused.setdefault("metadata", {})["generation"] = 2
    verdict = can_admit(refused, [sysctl.allowlist().admit])
    status = rejected_status(refused, verdict, "BestEffort", "2026-01-01T00:00:00Z")
    assert status["observedGeneration"] == 2
