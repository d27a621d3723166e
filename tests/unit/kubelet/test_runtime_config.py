"""From a pod's spec to sandbox and container configs, as the kubelet generates them."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.pod_actions import HASH_ANNOTATION
from kubelite.runtime.cri import DNSConfig, PortMapping

GI = 1 << 30


def pod(*containers: dict, **spec: Any) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "w"}},
        "spec": {"containers": list(containers) or [{"name": "c", "image": "nginx"}], **spec},
    }


def with_resources(requests: dict | None = None, limits: dict | None = None) -> dict:
    resources: dict = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": "c", "image": "nginx", "resources": resources}


@pytest.mark.parametrize(
    ("milli", "shares"), [(0, 2), (1, 2), (100, 102), (250, 256), (1000, 1024), (10**9, 262144)]
)
def test_cpu_requests_become_shares(milli: int, shares: int) -> None:
    assert rc.milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize(("milli", "quota"), [(0, 0), (1, 1000), (100, 10000), (2000, 200000)])
def test_cpu_limits_become_a_quota_per_100ms(milli: int, quota: int) -> None:
    assert rc.milli_cpu_to_quota(milli) == quota


def test_resources_of_a_burstable_container() -> None:
    container = with_resources({"cpu": "250m", "memory": "1Gi"}, {"cpu": "500m", "memory": "2Gi"})
    made = rc.container_resources(pod(container), container, memory_capacity=4 * GI)
    assert (made.cpu_shares, made.cpu_quota, made.cpu_period) == (256, 50000, 100000)
    assert made.memory_limit_in_bytes == 2 * GI
    assert made.oom_score_adj == 750  # 1000 - 1000 * 1Gi / 4Gi


def test_oom_scores_by_qos_class_never_below_zero_here() -> None:
    guaranteed = with_resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
    assert rc.oom_score_adj(pod(guaranteed), guaranteed, 4 * GI) == 0
    best_effort = {"name": "c", "image": "nginx"}
    assert rc.oom_score_adj(pod(best_effort), best_effort, 4 * GI) == 1000
    huge = with_resources({"memory": "8Gi"})
    assert rc.oom_score_adj(pod(huge), huge, 4 * GI) == 3


def test_a_limit_alone_sets_the_shares_too() -> None:
    container = with_resources(limits={"cpu": "1"})
    assert rc.container_resources(pod(container), container, GI).cpu_shares == 1024


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ("web", "")),
        ({"hostname": "db-0"}, ("db-0", "")),
        ({"hostname": "db-0", "subdomain": "db"}, ("db-0", "db.shop.svc.cluster.local")),
        ({"subdomain": "db"}, ("web", "db.shop.svc.cluster.local")),
    ],
)
def test_hostname_and_domain(spec: dict, expected: tuple[str, str]) -> None:
    assert rc.hostname(pod(**spec)) == expected


def test_the_domain_follows_the_cluster_domain() -> None:
    assert rc.hostname(pod(subdomain="db"), "corp.internal") == ("web", "db.shop.svc.corp.internal")


def test_a_long_pod_name_is_cut_to_63_characters_without_a_trailing_dash() -> None:
    named = pod()
    named["metadata"]["name"] = "a" * 62 + "-b" + "c" * 10
    assert rc.hostname(named) == ("a" * 62, "")


def test_an_invalid_hostname_or_subdomain_is_refused_as_the_kubelet_refuses_it() -> None:
    with pytest.raises(rc.SandboxConfigError, match='pod Hostname "Bad_Name" is not a valid DNS'):
        rc.hostname(pod(hostname="Bad_Name"))
    with pytest.raises(rc.SandboxConfigError, match=r'pod Subdomain "x\.y" is not a valid'):
        rc.hostname(pod(subdomain="x.y"))


def test_set_hostname_as_fqdn_gives_the_kernel_the_fqdn() -> None:
    assert rc.kernel_hostname("web", "db.shop.svc.cluster.local", True) == (
        "web.db.shop.svc.cluster.local"
    )
    assert rc.kernel_hostname("web", "db.shop.svc.cluster.local", False) == "web"
    # Without a subdomain there is no FQDN to set.
    assert rc.kernel_hostname("web", "", True) == "web"


def test_an_fqdn_longer_than_64_characters_is_an_error() -> None:
    domain = "s" * 20 + ".shop.svc.cluster.local"
    assert rc.kernel_hostname("h" * 20, domain, True) == f"{'h' * 20}.{domain}"  # 64: fits
    with pytest.raises(rc.SandboxConfigError) as caught:
        rc.kernel_hostname("h" * 21, domain, True)
    assert str(caught.value) == (
        "failed to construct FQDN from pod hostname and cluster domain, FQDN "
        f"{'h' * 21}.{domain} is too long (64 characters is the max, 65 characters requested)"
    )


def test_the_sandbox_config_carries_hostname_domain_and_the_fqdn_choice() -> None:
    spec = pod(hostname="db-0", subdomain="db", setHostnameAsFQDN=True)
    made = rc.sandbox_config(spec, attempt=0, dns_config=DNSConfig(), cgroup_root="/kubelite")
    assert (made.hostname, made.domain, made.hostname_as_fqdn) == (
        "db-0",
        "db.shop.svc.cluster.local",
        True,
    )


def test_a_host_network_pod_may_not_fit_an_fqdn_it_does_not_use() -> None:
    spec = pod(hostname="h" * 60, subdomain="db", setHostnameAsFQDN=True, hostNetwork=True)
    made = rc.sandbox_config(spec, attempt=0, dns_config=DNSConfig(), cgroup_root="/kubelite")
    assert made.host_network


def test_host_ports_become_port_mappings() -> None:
    container = {
        "name": "c",
        "image": "nginx",
        "ports": [
            {"containerPort": 80, "hostPort": 8080},
            {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
            {"containerPort": 9090},
        ],
    }
    assert rc.port_mappings(pod(container)) == [
        PortMapping(80, 8080, "TCP", ""),
        PortMapping(53, 5353, "UDP", "127.0.0.1"),
    ]


def test_the_sandbox_config_names_the_pod_its_logs_and_its_cgroup() -> None:
    dns = DNSConfig(servers=["10.43.0.10"])
    made = rc.sandbox_config(pod(), attempt=2, dns_config=dns, cgroup_root="/kubelite")
    assert made.metadata.attempt == 2 and made.hostname == "web" and made.dns_config == dns
    assert made.log_directory == "/var/log/pods/shop_web_u-1"
    assert made.cgroup_parent == "/kubelite/kubepods/besteffort/podu-1"
    assert made.labels["io.kubernetes.pod.uid"] == "u-1" and made.labels["app"] == "w"


def test_the_container_config_carries_hash_restart_count_and_log_path() -> None:
    container = {
        "name": "c",
        "image": "nginx",
        "workingDir": "/srv",
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
        },
    }
    spec = pod(container, securityContext={"runAsUser": 1000}, terminationGracePeriodSeconds=5)
    made = rc.container_config(
        spec,
        container,
        image="sha256:abc",
        restart_count=3,
        envs=[("A", "1")],
        mounts=[],
        command=["nginx"],
        args=["-g", "daemon off;"],
        memory_capacity=GI,
    )
    assert made.metadata.attempt == 3 and made.log_path == "c/3.log"
    assert made.annotations[HASH_ANNOTATION] == rc.spec_hash(container)
    assert made.annotations["io.kubernetes.container.restartCount"] == "3"
    assert made.annotations["io.kubernetes.pod.terminationGracePeriod"] == "5"
    assert made.security_context.run_as_user == 1000
    assert made.security_context.readonly_rootfs and made.security_context.no_new_privs
    assert made.security_context.capabilities is not None
    assert made.security_context.capabilities.add_capabilities == ["NET_ADMIN"]
    assert made.working_dir == "/srv" and made.envs == [("A", "1")]


def test_the_spec_hash_changes_with_the_spec_only() -> None:
    a = {"name": "c", "image": "nginx", "args": ["x"]}
    assert rc.spec_hash(a) == rc.spec_hash({"args": ["x"], "image": "nginx", "name": "c"})
    assert rc.spec_hash(a) != rc.spec_hash({**a, "image": "nginx:2"})
