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
HOST_HOSTS = Path("/etc/hosts")
SHM_SIZE = 64 * 1024 * 1024  # Docker's and containerd's default /dev/shm size

# The first line of every hosts file the kubelet manages (kubelet_pods.go managedHostsHeader,
# managedHostsHeaderWithHostNetwork).
MANAGED_HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
MANAGED_HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
# What follows the header in a pod-network pod's file.
_LOCAL_ENTRIES = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def host_alias_entries(aliases: list[cri.HostAlias]) -> str:
    """hostsEntriesFromHostAliases: a blank line, a header, then one line per alias IP."""
    if not aliases:
        return ""
    lines = ["\n# Entries added by HostAliases.\n"]
    lines.extend(f"{a.ip}\t{chr(9).join(a.hostnames)}\n" for a in aliases)
    return "".join(lines)


def hosts_file(hostname: str, domain: str, ips: list[str], aliases: list[cri.HostAlias]) -> str:
    """A pod-network pod's /etc/hosts (managedHostsFileContent): localhost lines, each pod IP
    with the pod's FQDN and hostname (or its hostname alone without a domain), then the
    hostAliases."""
    lines = [MANAGED_HOSTS_HEADER, _LOCAL_ENTRIES]
    for ip in ips:
        names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
        lines.append(f"{ip}\t{names}\n")
    lines.append(host_alias_entries(aliases))
    return "".join(lines)


def node_hosts_file(node_hosts: str, aliases: list[cri.HostAlias]) -> str:
    """A host-network pod's /etc/hosts (nodeHostsFileContent): the node's own file under the
    host-network header, then the hostAliases."""
    return MANAGED_HOSTS_HEADER_HOST_NETWORK + node_hosts + host_alias_entries(aliases)


def resolv_conf(dns: cri.DNSConfig | None, host_resolv: Path = HOST_RESOLV_CONF) -> str:
    """The pod's resolv.conf as containerd writes it from the kubelet's DNSConfig (search,
    nameserver and options lines, in that order); with nothing in it, a copy of the host's."""
    if dns is None or not (dns.servers or dns.searches or dns.options):
        try:
            return host_resolv.read_text()
        except FileNotFoundError:
            return ""
    lines = []
    if dns.searches:
        lines.append(f"search {' '.join(dns.searches)}\n")
    lines.extend(f"nameserver {s}\n" for s in dns.servers)
    if dns.options:
        lines.append(f"options {' '.join(dns.options)}\n")
    return "".join(lines)


def write_pod_files(
    files_dir: Path,
    config: cri.PodSandboxConfig,
    hostname: str,
    ip: str,
    *,
    host_hosts: Path = HOST_HOSTS,
) -> None:
    """The pod's files; `hostname` is the name in its UTS namespace (the FQDN with
    setHostnameAsFQDN, the node's name on the host network)."""
    files_dir.mkdir(parents=True, exist_ok=True)
    if config.host_network:
        hosts = node_hosts_file(host_hosts.read_text(), config.host_aliases)
    else:
        short = config.hostname or config.metadata.name
        hosts = hosts_file(short, config.domain, [ip] if ip else [], config.host_aliases)
    (files_dir / "hosts").write_text(hosts)
    (files_dir / "resolv.conf").write_text(resolv_conf(config.dns_config))
    (files_dir / "hostname").write_text(f"{hostname}\n")
