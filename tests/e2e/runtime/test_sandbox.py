"""Pod sandboxes: shared namespaces and files between a pod's containers, the CNI network (pod
IP from the host and from another pod, hostPort), the pod's /etc files, and a sandbox whose
network fails leaving nothing behind."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from runtime_fixtures import Harness, runtime_harness, tcp_exchange

from kubelite.runtime import cri
from kubelite.runtime.errors import NetworkError

pytestmark = pytest.mark.e2e

READY = cri.PodSandboxState.SANDBOX_READY
NOTREADY = cri.PodSandboxState.SANDBOX_NOTREADY
# Serve /www on port 80 with busybox httpd, in the foreground so that it is the container's PID 1.
HTTPD = [
    "sh",
    "-c",
    "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -f -p 80 -h /www",
]


async def test_containers_of_a_pod_share_localhost_ip_shm_and_a_mounted_dir(
    rt: Harness, tmp_path: Path
) -> None:
    sandbox = await rt.run_sandbox("pair")
    shared = tmp_path / "shared"
    shared.mkdir()
    mount = cri.Mount(container_path="/shared", host_path=str(shared))
    server = await rt.run_container(
        sandbox,
        "server",
        ["sh", "-c", "ip -4 -o addr show eth0 > /shared/server-ip; echo shm-ok > /dev/shm/marker; "
         "echo hi-over-localhost | nc -l -p 7777"],
        mounts=[mount],
    )  # fmt: skip
    client = await rt.run_container(
        sandbox,
        "client",
        ["sh", "-c", "until nc 127.0.0.1 7777 </dev/null; do sleep 0.05; done; "
         "ip -4 -o addr show eth0; cat /shared/server-ip /dev/shm/marker"],
        mounts=[mount],
    )  # fmt: skip
    assert (await rt.wait_state(client)).exit_code == 0
    await rt.wait_state(server)
    out = (await rt.logs(client))["stdout"].decode().splitlines()
    ip = (await rt.service.pod_sandbox_status(sandbox[0])).ip
    assert out[0] == "hi-over-localhost"
    assert f"inet {ip}/24" in out[1]
    assert out[1].split()[3] == out[2].split()[3]  # the same address seen from both containers
    assert out[3] == "shm-ok"  # one /dev/shm per pod


async def test_pod_ip_answers_from_the_host_and_from_another_pod(rt: Harness) -> None:
    web = await rt.run_sandbox("web")
    await rt.run_container(web, "httpd", HTTPD)
    ip = (await rt.service.pod_sandbox_status(web[0])).ip
    assert ip.startswith(rt.network.subnet.rsplit(".", 1)[0])
    reply = await tcp_exchange(ip, 80, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.endswith(b"hello-from-pod\n")
    other = await rt.run_sandbox("other")
    client = await rt.run_container(
        other,
        "wget",
        ["sh", "-c", f"until wget -q -O - http://{ip}/; do sleep 0.1; done"],
    )
    await rt.wait_state(client)
    assert (await rt.logs(client))["stdout"] == b"hello-from-pod\n"
    assert (await rt.service.pod_sandbox_status(other[0])).ip != ip


async def test_host_port_reaches_the_pod(rt: Harness) -> None:
    host_port = 30000 + secrets.randbelow(2000)
    sandbox = await rt.run_sandbox(
        "hostport", port_mappings=[cri.PortMapping(container_port=80, host_port=host_port)]
    )
    await rt.run_container(sandbox, "httpd", HTTPD)
    # The bridge's address is one of the host's own; portmap DNATs locally sent traffic too.
    reply = await tcp_exchange(rt.network.gateway, host_port, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.endswith(b"hello-from-pod\n")


async def test_pod_files_hosts_resolv_conf_and_hostname(rt: Harness) -> None:
    sandbox = await rt.run_sandbox(
        "files",
        hostname="custom-host",
        dns_config=cri.DNSConfig(
            servers=["10.43.0.10"], searches=["t.svc.cluster.local"], options=["ndots:5"]
        ),
        host_aliases=[cri.HostAlias(ip="10.1.2.3", hostnames=["alias-a", "alias-b"])],
    )
    cid = await rt.run_container(
        sandbox,
        "main",
        ["sh", "-c", "cat /etc/hosts /etc/resolv.conf /etc/hostname; hostname"],
    )
    await rt.wait_state(cid)
    out = (await rt.logs(cid))["stdout"].decode()
    ip = (await rt.service.pod_sandbox_status(sandbox[0])).ip
    assert "127.0.0.1\tlocalhost\n" in out
    assert f"{ip}\tcustom-host\n" in out
    assert "\n# Entries added by HostAliases.\n10.1.2.3\talias-a\talias-b\n" in out
    assert "search t.svc.cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n" in out
    assert out.endswith("custom-host\ncustom-host\n")


async def test_a_pod_with_a_domain_and_set_hostname_as_fqdn(rt: Harness) -> None:
    fqdn = "web-0.web.t.svc.cluster.local"
    sandbox = await rt.run_sandbox(
        "fqdn", hostname="web-0", domain="web.t.svc.cluster.local", hostname_as_fqdn=True
    )
    cid = await rt.run_container(
        sandbox, "main", ["sh", "-c", "cat /etc/hosts /etc/hostname; hostname; echo $HOSTNAME"]
    )
    await rt.wait_state(cid)
    out = (await rt.logs(cid))["stdout"].decode()
    ip = (await rt.service.pod_sandbox_status(sandbox[0])).ip
    # /etc/hosts keeps the short name beside the FQDN; the UTS namespace has the FQDN.
    assert f"{ip}\t{fqdn}\tweb-0\n" in out
    assert out.endswith(f"{fqdn}\n{fqdn}\n{fqdn}\n")


async def test_status_list_stop_and_remove(rt: Harness) -> None:
    sandbox_id, _ = await rt.run_sandbox("life", labels={"app": "x"})
    cid = await rt.run_container((sandbox_id, _), "sleeper", ["sleep", "60"])
    status = await rt.service.pod_sandbox_status(sandbox_id)
    assert (status.state, status.labels, status.metadata.name) == (READY, {"app": "x"}, "life")
    assert Path(status.netns_path).exists()
    assert [s.id for s in await rt.service.list_pod_sandboxes()] == [sandbox_id]
    await rt.service.stop_pod_sandbox(sandbox_id)
    assert (await rt.service.pod_sandbox_status(sandbox_id)).state is NOTREADY
    assert (await rt.service.container_status(cid)).state is cri.ContainerState.CONTAINER_EXITED
    leases = rt.base / "run" / "cni" / "networks" / "kubelite"
    assert not [p for p in leases.iterdir() if p.name[0].isdigit()]
    await rt.service.stop_pod_sandbox(sandbox_id)  # idempotent
    await rt.service.remove_pod_sandbox(sandbox_id)
    assert await rt.service.list_pod_sandboxes() == []
    assert await rt.service.list_containers() == []
    assert not Path(status.netns_path).exists()
    await rt.service.remove_pod_sandbox(sandbox_id)  # missing is fine


async def test_cni_failure_fails_the_sandbox_and_leaves_nothing() -> None:
    # A plugin that does not exist, chained after bridge and portmap: they have already run
    # when it fails, so their IP lease and rules must be undone.
    async with runtime_harness(extra_plugins=[{"type": "kl-bogus-plugin"}]) as rt:
        with pytest.raises(NetworkError) as failure:
            await rt.run_sandbox("nonet")
        assert 'failed to find plugin "kl-bogus-plugin"' in str(failure.value)
        assert await rt.service.list_pod_sandboxes() == []
        assert list((rt.base / "run" / "sandboxes").iterdir()) == []
        leases = rt.base / "run" / "cni" / "networks" / "kubelite"
        assert not [p for p in leases.iterdir() if p.name[0].isdigit()]
        # The harness then checks that no mount, cgroup or iptables rule of it is left.


async def test_sandbox_sysctls_apply_to_its_containers(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("sysctl", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"})
    cid = await rt.run_container(
        sandbox, "main", ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]
    )
    await rt.wait_state(cid)
    assert (await rt.logs(cid))["stdout"] == b"80\n"


async def test_host_network_pod_sees_the_hosts_interfaces(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("hostnet", host_network=True)
    status = await rt.service.pod_sandbox_status(sandbox[0])
    assert (status.ip, status.netns_path) == ("", "")
    cid = await rt.run_container(sandbox, "main", ["cat", "/proc/net/dev"])
    await rt.wait_state(cid)
    host_interfaces = {
        line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:]
    }
    seen = {
        line.split(":")[0].strip()
        for line in (await rt.logs(cid))["stdout"].decode().splitlines()[2:]
    }
    assert seen == host_interfaces
    hostname = await rt.run_container(sandbox, "hostname", ["hostname"])
    await rt.wait_state(hostname)
    assert (await rt.logs(hostname))["stdout"] == f"{os.uname().nodename}\n".encode()
