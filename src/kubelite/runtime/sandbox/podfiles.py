"""The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname, and its shared /dev/shm.

Images do not carry these files; Kubernetes writes them once per pod and bind-mounts the same
files into every container of the pod (the kubelet's `ensureHostsFile`, and the runtimes'
resolv.conf and hostname handling). /dev/shm is one tmpfs per pod, so that containers sharing the
pod's IPC namespace also share its POSIX shared memory, as with a pause container's /dev/shm.
"""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime import cri

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
SHM_SIZE = 64 * 1024 * 1024  # Docker's and containerd's default /dev/shm size

# What the kubelet puts at the top of every managed /etc/hosts (kubelet_pods.go).
_HOSTS_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def hosts_file(hostname: str, ip: str, aliases: list[cri.HostAlias]) -> str:
    """/etc/hosts as the kubelet writes it: localhost lines, the pod's IP, then hostAliases."""
    lines = [_HOSTS_HEADER]
    if ip:
        lines.append(f"{ip}\t{hostname}\n")
    if aliases:
        lines.append("\n# Entries added by HostAliases.\n")
        lines.extend(f"{a.ip}\t{chr(9).join(a.hostnames)}\n" for a in aliases)
    return "".join(lines)


def resolv_conf(dns: cri.DNSConfig | None, host_resolv: Path = HOST_RESOLV_CONF) -> str:
    """The pod's resolv.conf: from its DNSConfig, else a copy of the host's."""
    if dns is None:
        try:
            return host_resolv.read_text()
        except FileNotFoundError:
            return ""
    lines = [f"nameserver {s}\n" for s in dns.servers]
    if dns.searches:
        lines.append(f"search {' '.join(dns.searches)}\n")
    if dns.options:
        lines.append(f"options {' '.join(dns.options)}\n")
    return "".join(lines)


def write_pod_files(files_dir: Path, config: cri.PodSandboxConfig, hostname: str, ip: str) -> None:
    files_dir.mkdir(parents=True, exist_ok=True)
    (files_dir / "hosts").write_text(hosts_file(hostname, ip, config.host_aliases))
    (files_dir / "resolv.conf").write_text(resolv_conf(config.dns_config))
    (files_dir / "hostname").write_text(f"{hostname}\n")
