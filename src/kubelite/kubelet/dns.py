"""The pod's resolver configuration (its /etc/resolv.conf), as the kubelet forms it.

This is Kubernetes' `pkg/kubelet/network/dns` (1.33): the kubelet reads the node's resolver
file (`--resolv-conf`) every time it forms a pod's configuration, and then by `dnsPolicy`:

- `ClusterFirst` (the default; `ClusterFirstWithHostNet` for a host-network pod): the cluster DNS
  servers (`--cluster-dns`) alone, the search path `<ns>.svc.<domain> svc.<domain> <domain>`
  followed by the node's own searches, and `options ndots:5`. A host-network pod with
  `ClusterFirst` gets `Default`, and so does any pod when the kubelet has no cluster DNS (with a
  `MissingClusterDNS` warning on the pod and the node);
- `Default`: the node's file as it is (with `--resolv-conf=""`, a loopback nameserver and the
  search `.`, which effectively turns lookups off);
- `None`: nothing but the pod's `dnsConfig`.

A `dnsConfig` is then appended (duplicates dropped; its options replace same-named ones), and the
result is cut to the resolver's limits: at most 3 nameservers, 32 search domains, none longer
than 253 characters, 2048 characters in all. A cut is reported as a `DNSConfigForming` warning
on the pod, as Kubernetes reports it.

The runtime writes the file from the result (`runtime/sandbox/podfiles.py`). How the node's file
is chosen when the host's own points at a local stub resolver (127.0.0.53) is the agent's
business (`choose_resolv_conf`, k3s' rule).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kubelite.api.servicenetwork import CLUSTER_DOMAIN
from kubelite.api.types import Obj
from kubelite.kubelet.podref import format_pod
from kubelite.runtime.cri import DNSConfig

log = logging.getLogger(__name__)

# The options of a ClusterFirst pod (dns.go defaultDNSOptions).
CLUSTER_FIRST_OPTIONS = ("ndots:5",)
# The resolver's limits the kubelet keeps to (pkg/apis/core/validation: MaxDNSNameservers,
# MaxDNSSearchPaths and MaxDNSSearchListChars since ExpandedDNSConfig went GA).
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_LIST_CHARS = 2048
# A search domain longer than a DNS subdomain makes some resolvers (glibc 2.28) abort: dropped.
MAX_SEARCH_DOMAIN_CHARS = 253
# How much of the node's resolver file the kubelet reads (dns.go maxResolveConfLength).
MAX_RESOLV_CONF_BYTES = 10 << 20

# Event reasons (dns.go).
DNS_CONFIG_FORMING = "DNSConfigForming"
MISSING_CLUSTER_DNS = "MissingClusterDNS"
CHECK_LIMITS_FOR_RESOLV_CONF = "CheckLimitsForResolvConf"

# Where the node's resolver file is looked for when none is named, in order (k3s'
# locateOrGenerateResolvConf), and the server written when neither will do.
RESOLV_CONF_CANDIDATES = (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf"))
FALLBACK_NAMESERVER = "8.8.8.8"


class DNSError(Exception):
    """The node's resolver file cannot be read: the pod's sandbox cannot be made."""


@dataclass(frozen=True)
class ResolvConf:
    """The parts of a resolv.conf that matter to a pod: nameservers, search domains and options."""

    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DNSEvent:
    """A warning the kubelet records while forming a pod's DNS: about the pod or the node."""

    about: Literal["pod", "node"]
    reason: str
    message: str


@dataclass(frozen=True)
class PodDNS:
    """A pod's DNS configuration with the warnings met while forming it, which the kubelet records
    as events."""

    config: DNSConfig
    events: list[DNSEvent] = field(default_factory=list)


def parse_resolv_conf(text: str) -> ResolvConf:
    """parseResolvConf: nameserver lines accumulate, the last search and options lines win.

    Search domains lose a trailing dot, so that `a.example.` and `a.example` count once.
    Raises DNSError for a `nameserver` line without an address, as the kubelet does.
    """
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    errors = []
    for line in text.split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("#"):
            continue
        fields = trimmed.split()
        if not fields:
            continue
        if fields[0] == "nameserver":
            if len(fields) >= 2:
                servers.append(fields[1])
            else:
                errors.append("nameserver list is empty ")
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    if errors:
        # utilerrors.NewAggregate: one error is itself, several are a bracketed list.
        raise DNSError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
    return ResolvConf(servers, searches, options)


def read_resolv_conf(path: str) -> ResolvConf:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_RESOLV_CONF_BYTES + 1)
    except OSError as e:
        raise DNSError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from e
    if len(data) > MAX_RESOLV_CONF_BYTES:
        raise DNSError(f"{path}: larger than {MAX_RESOLV_CONF_BYTES} bytes")
    return parse_resolv_conf(data.decode(errors="replace"))


def _omit_duplicates(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(existing: list[str], pod_options: list[Obj]) -> list[str]:
    """mergeDNSOptions: the pod's options replace same-named ones; an empty value means the bare
    name. Kubernetes returns them in Go map order (random); here the first occurrence keeps its
    place, so that a pod gets the same file on every node."""
    merged: dict[str, str] = {}
    for option in existing:
        name, _, value = option.partition(":")
        merged[name] = value
    for pod_option in pod_options:
        merged[pod_option.get("name", "")] = pod_option.get("value") or ""
    return [f"{name}:{value}" if value else name for name, value in merged.items()]


def _fit_nameservers(servers: list[str], events: list[DNSEvent]) -> list[str]:
    if len(servers) <= MAX_NAMESERVERS:
        return servers
    servers = servers[:MAX_NAMESERVERS]
    message = (
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
        f"nameserver line is: {' '.join(servers)}"
    )
    events.append(DNSEvent("pod", DNS_CONFIG_FORMING, message))
    return servers


def _fit_searches(searches: list[str], events: list[DNSEvent]) -> list[str]:
    """formDNSSearchFitsLimits: the first 32, without over-long domains, cut from the end until
    the line fits in 2048 characters."""
    exceeded = len(searches) > MAX_SEARCH_PATHS
    fitted = searches[:MAX_SEARCH_PATHS]
    kept = [s for s in fitted if len(s) <= MAX_SEARCH_DOMAIN_CHARS]
    exceeded = exceeded or len(kept) != len(fitted)
    line_length = len(" ".join(kept))
    if line_length > MAX_SEARCH_LIST_CHARS:
        exceeded = True
        while kept and line_length > MAX_SEARCH_LIST_CHARS:
            line_length -= len(kept.pop()) + 1
    if exceeded:
        message = (
            "Search Line limits were exceeded, some search paths have been omitted, the applied "
            f"search line is: {' '.join(kept)}"
        )
        events.append(DNSEvent("pod", DNS_CONFIG_FORMING, message))
    return kept


def _dns_type(pod: Obj) -> str:
    """getPodDNSType: "cluster", "host" or "none"."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst":
        return "host" if spec.get("hostNetwork") else "cluster"
    if policy == "Default":
        return "host"
    # The API server rejects any other policy; the kubelet would fall back to ClusterFirst.
    log.error("invalid DNSPolicy=%s of pod %s: using ClusterFirst", policy, format_pod(pod))
    return "cluster"


@dataclass(frozen=True)
class DNSConfigurer:
    """The kubelet's DNS flags: --cluster-dns, --cluster-domain and --resolv-conf ("" for none),
    and the node's IPs (which loopback address stands in when there is no resolver file)."""

    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = CLUSTER_DOMAIN
    resolv_conf: str = str(RESOLV_CONF_CANDIDATES[0])
    node_ips: list[str] = field(default_factory=list)

    def host_config(self) -> ResolvConf:
        """getHostDNSConfig: the node's resolver file, read now (it may have changed)."""
        return read_resolv_conf(self.resolv_conf) if self.resolv_conf else ResolvConf()

    def cluster_searches(self, namespace: str, host_searches: list[str]) -> list[str]:
        """generateSearchesForDNSClusterFirst."""
        domain = self.cluster_domain
        if not domain:
            return list(host_searches)
        return _omit_duplicates(
            [f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host_searches]
        )

    def pod_dns(self, pod: Obj) -> PodDNS:
        """GetPodDNS: the pod's resolver configuration and the warnings it gave rise to."""
        host = self.host_config()
        servers, searches, options = list(host.servers), list(host.searches), list(host.options)
        events: list[DNSEvent] = []
        kind = _dns_type(pod)
        if kind == "none":
            servers, searches, options = [], [], []
        elif kind == "cluster" and self.cluster_dns:
            # The cluster DNS is the only nameserver: it forwards what it does not know.
            servers = list(self.cluster_dns)
            searches = self.cluster_searches(pod["metadata"].get("namespace", ""), searches)
            options = list(CLUSTER_FIRST_OPTIONS)
        else:
            if kind == "cluster":
                message = (
                    "kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                    '"ClusterFirst" policy. Falling back to "Default" policy.'
                )
                events.append(DNSEvent("node", MISSING_CLUSTER_DNS, message))
                events.append(
                    DNSEvent("pod", MISSING_CLUSTER_DNS, f'pod: "{format_pod(pod)}". {message}')
                )
            if not self.resolv_conf:
                # No resolver file: "the nameserver on the local machine", one per node IP
                # family, and a search path that searches nothing.
                servers += [_loopback_for(ip) for ip in self.node_ips] or ["127.0.0.1"]
                searches = ["."]
        custom = (pod.get("spec") or {}).get("dnsConfig")
        if custom is not None:
            servers = _omit_duplicates([*servers, *(custom.get("nameservers") or ())])
            searches = _omit_duplicates([*searches, *(custom.get("searches") or ())])
            options = _merge_options(options, list(custom.get("options") or ()))
        servers = _fit_nameservers(servers, events)
        searches = _fit_searches(searches, events)
        return PodDNS(DNSConfig(servers=servers, searches=searches, options=options), events)

    def check_limits_for_resolv_conf(self) -> list[str]:
        """CheckLimitsForResolvConf: what is wrong with the node's own search line (warnings
        about the node, once when the kubelet starts its sync loop)."""
        try:
            searches = self.host_config().searches
        except DNSError as e:
            return [str(e)]
        limit = MAX_SEARCH_PATHS - (3 if self.cluster_domain else 0)
        path = self.resolv_conf
        if len(searches) > limit:
            return [
                f"Resolv.conf file '{path}' contains search line consisting of more than "
                f"{limit} domains!"
            ]
        if any(len(s) > MAX_SEARCH_DOMAIN_CHARS for s in searches):
            return [
                f'Resolv.conf file "{path}" contains a search path which length is more than '
                f"allowed {MAX_SEARCH_DOMAIN_CHARS} chars!"
            ]
        if len(" ".join(searches)) > MAX_SEARCH_LIST_CHARS:
            return [
                f"Resolv.conf file '{path}' contains search line which length is more than "
                f"allowed {MAX_SEARCH_LIST_CHARS} chars!"
            ]
        return []


def _loopback_for(node_ip: str) -> str:
    try:
        return "::1" if ipaddress.ip_address(node_ip).version == 6 else "127.0.0.1"
    except ValueError:
        return "127.0.0.1"


# --- the node's resolver file (the agent's --resolv-conf) ------------------------------------


def is_usable_resolv_conf(path: Path) -> bool:
    """Whether a resolver file names only global unicast nameservers, and at least one (k3s'
    isValidResolvConf): a loopback stub (systemd-resolved's 127.0.0.53, dnsmasq's 127.0.0.1)
    is unreachable from a pod's network namespace, and so is a link-local or multicast one."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    found = False
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0] != "nameserver" or not line.startswith("nameserver"):
            continue
        try:
            address = ipaddress.ip_address(fields[1])
        except ValueError:
            return False
        if not _is_global_unicast(address):
            return False
        found = True
    return found


def _is_global_unicast(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Go's net.IP.IsGlobalUnicast: not unspecified, loopback, link-local, multicast or the
    IPv4 broadcast address (private ranges are global unicast here)."""
    return not (
        address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address == ipaddress.IPv4Address("255.255.255.255")
    )


def choose_resolv_conf(
    generated: Path, candidates: tuple[Path, ...] = RESOLV_CONF_CANDIDATES
) -> Path:
    """The node's resolver file when none is named: /etc/resolv.conf, else systemd-resolved's
    upstream file, else `generated`, written with a public nameserver (k3s'
    locateOrGenerateResolvConf)."""
    for candidate in candidates:
        if is_usable_resolv_conf(candidate):
            return candidate
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(f"nameserver {FALLBACK_NAMESERVER}\n")
    log.warning(
        "host resolv.conf includes loopback or multicast nameservers: pods with dnsPolicy "
        "Default use %s (nameserver %s)",
        generated,
        FALLBACK_NAMESERVER,
    )
    return generated
