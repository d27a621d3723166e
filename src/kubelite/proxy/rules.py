"""The nftables objects of the service proxy: its table's fixed skeleton, and one Service's
chains, sets and map elements.

The layout is kube-proxy's nftables mode (KEP-3866, pkg/proxy/nftables/proxier.go), in an
`inet` table of our own:

- base chains at the netfilter hooks: `filter-*` at priority dstnat-10 (before DNAT, so they
  see the Service's address) reject new connections to a Service with no endpoints, through the
  `no-endpoint-services` / `no-endpoint-nodeports` verdict maps, and reject traffic to a
  ClusterIP on a port it does not serve (`cluster-ips`); `nat-prerouting` and `nat-output`
  (dstnat) jump to `services`; `nat-postrouting` (srcnat) jumps to `masquerading`;
- `services` looks the destination up in two verdict maps: `service-ips` (ClusterIP,
  externalIP and load-balancer IP . protocol . port) and `service-nodeports` (protocol . port,
  for the node's addresses in `nodeport-ips`), each element a `goto` to a Service's chain;
- per service port `service-<hash>-<ns>/<name>/<proto>/<port>` (Cluster policy endpoints),
  `local-...` (Local policy endpoints), `external-...` (NodePort, externalIP and load-balancer
  traffic: masquerade, short-circuits, then one of the two);
- `sessionAffinity: ClientIP`: a set per endpoint (`affinity-...`, dynamic, with the affinity
  timeout) that the endpoint chain (`endpoint-<hash>-.../<ip>/<port>`) updates with the
  client's address, and that the service chain consults before picking at random;
- masquerade: chains jump to `mark-for-masquerade` (mark 0x4000); `masquerading` at postrouting
  clears the mark and masquerades what carries it.

Where this departs from kube-proxy, and why. kube-proxy picks an endpoint with one
`numgen random mod N vmap { 0 : goto endpoint-A, ... }` rule, and gives every endpoint a chain
that marks hairpin traffic (`ip saddr <endpoint> jump mark-for-masquerade`) and DNATs. With
Debian 12's nft 1.0.6 and this kernel, both cost too much at 10,000 Services of 10 endpoints:
a file with one anonymous map per Service takes time quadratic in their number (1.8 s for 2,000
Services, 17 s for 4,000); and nft lists every chain of the table before each file that adds a
rule or an element, which with 110,000 chains took 0.6-0.9 s per sync. So the
service chain picks with one rule per endpoint (`numgen random mod N-i == 0`, each endpoint
with probability 1/N, as kube-proxy's iptables mode does) and DNATs in that rule; endpoint
chains remain only where affinity needs them; and hairpin traffic is recognised once, at
postrouting, by `ct status dnat ip saddr . ip daddr @hairpin` (a set of `ip . ip` for every
endpoint IP): the same packets are masqueraded as with kube-proxy's per-endpoint rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelite.proxy.model import Categorized, Endpoint, ServicePort

DEFAULT_TABLE = "kubelite"
# kube-proxy's --masquerade-bit default (14).
MASQUERADE_MARK = "0x00004000"

SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
CLUSTER_IPS = "cluster-ips"
NODEPORT_IPS = "nodeport-ips"
REJECT_CHAIN = "reject-chain"
HAIRPIN = "hairpin"
MARK_MASQ = "mark-for-masquerade"

# name, type, hook, priority: filter chains run before DNAT (dstnat is -100), to see the
# Service's address. Numbers: nft 1.0.6 takes the name `dstnat` only at prerouting.
BASE_CHAINS = (
    ("filter-input", "filter", "input", "-110"),
    ("filter-forward", "filter", "forward", "-110"),
    ("filter-output", "filter", "output", "-110"),
    ("filter-output-post-dnat", "filter", "output", "-90"),
    ("nat-prerouting", "nat", "prerouting", "-100"),
    ("nat-output", "nat", "output", "-100"),
    ("nat-postrouting", "nat", "postrouting", "100"),
)

# The chain jumped to, the base chain it is jumped from, and the match in front of the jump.
JUMPS = (
    ("nodeport-endpoints-check", "filter-input", "ct state new "),
    ("service-endpoints-check", "filter-input", "ct state new "),
    ("service-endpoints-check", "filter-forward", "ct state new "),
    ("service-endpoints-check", "filter-output", "ct state new "),
    ("cluster-ips-check", "filter-forward", "ct state new "),
    ("cluster-ips-check", "filter-output-post-dnat", "ct state new "),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
)


@dataclass(frozen=True)
class ProxyConfig:
    """What the rules depend on besides Services: the node and the cluster."""

    table: str = DEFAULT_TABLE
    node_name: str = ""
    # Pod addresses of the whole cluster: traffic from elsewhere to a ClusterIP is masqueraded
    # (kube-proxy's --cluster-cidr local-traffic detector). Empty: no such rule.
    cluster_cidrs: tuple[str, ...] = ()
    # The addresses NodePorts answer on (kube-proxy's --nodeport-addresses; its nftables mode
    # defaults to the node's primary IPs). None: every local address but loopback.
    nodeport_ips: tuple[str, ...] | None = ()
    # Protocols the kernel can DNAT; service ports of others are left out.
    protocols: tuple[str, ...] = ("tcp", "udp", "sctp")


@dataclass
class ServiceRules:
    """Everything one Service puts in the table, beside the skeleton.

    `elements` maps (map or set name, key) to the element's verdict ("" for set elements):
    the ones it wants, which other Services may want too (`claims.ElementClaims`)."""

    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)
    elements: dict[tuple[str, str], str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.chains or self.sets or self.elements)


def skeleton(config: ProxyConfig) -> list[str]:
    """Commands that create the table's fixed chains, maps, sets and rules (after the table)."""
    t = f"inet {config.table}"
    cmds = [f'add table {t} {{ comment "rules for the kubelite service proxy"; }}']
    for name, kind, hook, priority in BASE_CHAINS:
        spec = f"type {kind} hook {hook} priority {priority}; policy accept;"
        cmds.append(f"add chain {t} {name} {{ {spec} }}")
    for name in (
        "nodeport-endpoints-check",
        "service-endpoints-check",
        "cluster-ips-check",
        "services",
        "masquerading",
        MARK_MASQ,
        REJECT_CHAIN,
    ):
        cmds.append(f"add chain {t} {name}")
    for target, source, match in JUMPS:
        cmds.append(f"add rule {t} {source} {match}jump {target}")
    cmds += [
        f"add rule {t} {MARK_MASQ} mark set mark or {MASQUERADE_MARK}",
        f"add set {t} {HAIRPIN} {{ type ipv4_addr . ipv4_addr; "
        'comment "endpoint . endpoint: a pod reaching itself through a Service"; }',
        f"add rule {t} masquerading ct status dnat ip saddr . ip daddr @{HAIRPIN} jump {MARK_MASQ}",
        f"add rule {t} masquerading mark and {MASQUERADE_MARK} == 0 return",
        f"add rule {t} masquerading mark set mark xor {MASQUERADE_MARK}",
        f"add rule {t} masquerading masquerade fully-random",
        f"add rule {t} {REJECT_CHAIN} reject",
        f"add map {t} {SERVICE_IPS} {{ type ipv4_addr . inet_proto . inet_service : verdict; "
        'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"; }',
        f"add map {t} {SERVICE_NODEPORTS} {{ type inet_proto . inet_service : verdict; "
        'comment "NodePort traffic"; }',
        f"add map {t} {NO_ENDPOINT_SERVICES} {{ type ipv4_addr . inet_proto . inet_service : "
        'verdict; comment "vmap to drop or reject packets to services with no endpoints"; }',
        f"add map {t} {NO_ENDPOINT_NODEPORTS} {{ type inet_proto . inet_service : verdict; "
        'comment "vmap to drop or reject packets to service nodeports with no endpoints"; }',
        f'add set {t} {CLUSTER_IPS} {{ type ipv4_addr; comment "Active ClusterIPs"; }}',
        f"add rule {t} service-endpoints-check "
        f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}",
        f"add rule {t} services ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}",
        f"add rule {t} cluster-ips-check ip daddr @{CLUSTER_IPS} reject "
        'comment "Reject traffic to invalid ports of ClusterIPs"',
    ]
    if config.nodeport_ips is None:
        match = "fib daddr type local ip daddr != 127.0.0.0/8"
    else:
        cmds.append(
            f'add set {t} {NODEPORT_IPS} {{ type ipv4_addr; comment "IPs that accept NodePort '
            'traffic"; }'
        )
        if config.nodeport_ips:
            ips = ", ".join(config.nodeport_ips)
            cmds.append(f"add element {t} {NODEPORT_IPS} {{ {ips} }}")
        match = f"ip daddr @{NODEPORT_IPS}"
    cmds += [
        f"add rule {t} services {match} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}",
        f"add rule {t} nodeport-endpoints-check {match} "
        f"meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}",
    ]
    return cmds


def _saddr_set(cidrs: tuple[str, ...]) -> str:
    return cidrs[0] if len(cidrs) == 1 else "{ " + ", ".join(cidrs) + " }"


def add_service_port(
    rules: ServiceRules, port: ServicePort, cat: Categorized, config: ProxyConfig
) -> None:
    """Add one service port's chains, sets and elements to `rules` (kube-proxy's per
    service-port part of syncProxyRules)."""
    proto = port.protocol
    base = port.chain_base
    cluster_chain = f"service-{base}"
    local_chain = f"local-{base}"
    external_chain = f"external-{base}"
    uses_cluster_chain = bool(cat.cluster) and port.uses_cluster_endpoints
    uses_local_chain = bool(cat.local) and port.uses_local_endpoints

    internal_chain = local_chain if port.internal_policy_local else cluster_chain
    has_internal = cat.has_any and not (port.internal_policy_local and not cat.local)
    external_policy_chain = local_chain if port.external_policy_local else cluster_chain
    has_external = cat.has_any and not (port.external_policy_local and not cat.local)
    uses_external_chain = cat.has_any and port.externally_accessible

    if not cat.has_any:
        internal_verdict = external_verdict = f"goto {REJECT_CHAIN}"
    else:
        # A Local policy with no local endpoint drops (kube-proxy counts these services in
        # sync_proxy_rules_no_local_endpoints_total); it does not reject.
        internal_verdict = external_verdict = "drop"

    def element(name: str, key: str, verdict: str) -> None:
        rules.elements[(name, key)] = verdict

    rules.elements[(CLUSTER_IPS, port.cluster_ip)] = ""
    key = f"{port.cluster_ip} . {proto} . {port.port}"
    if has_internal:
        element(SERVICE_IPS, key, f"goto {internal_chain}")
    else:
        element(NO_ENDPOINT_SERVICES, key, internal_verdict)
    for ip in (*port.external_ips, *port.load_balancer_ips):
        ext_key = f"{ip} . {proto} . {port.port}"
        if cat.has_any:
            element(SERVICE_IPS, ext_key, f"goto {external_chain}")
        if not has_external:
            element(NO_ENDPOINT_SERVICES, ext_key, external_verdict)
    if port.node_port:
        np_key = f"{proto} . {port.node_port}"
        if cat.has_any:
            element(SERVICE_NODEPORTS, np_key, f"goto {external_chain}")
        if not has_external:
            element(NO_ENDPOINT_NODEPORTS, np_key, external_verdict)

    chains: dict[str, list[str]] = {}
    if has_internal and config.cluster_cidrs:
        # Off-cluster clients reaching a ClusterIP (a static route to the service range through
        # this node): the reply must come back through us.
        chains.setdefault(internal_chain, []).append(
            f"ip daddr {port.cluster_ip} {proto} dport {port.port} "
            f"ip saddr != {_saddr_set(config.cluster_cidrs)} jump {MARK_MASQ}"
        )
    if uses_external_chain:
        ext: list[str] = chains.setdefault(external_chain, [])
        if not port.external_policy_local:
            ext.append(f"jump {MARK_MASQ}")
        else:
            if config.cluster_cidrs:
                ext.append(
                    f"ip saddr {_saddr_set(config.cluster_cidrs)} goto {cluster_chain} "
                    'comment "short-circuit pod traffic"'
                )
            ext.append(f'fib saddr type local jump {MARK_MASQ} comment "masquerade local traffic"')
            ext.append(
                f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"'
            )
        if has_external:
            ext.append(f"goto {external_policy_chain}")

    affinity = port.affinity_timeout > 0
    if affinity:
        for ep in cat.all_reachable:
            rules.sets[f"affinity-{port.endpoint_chain_base(ep)}"] = (
                f"type ipv4_addr; flags dynamic,timeout; timeout {port.affinity_timeout}s;"
            )

    def dnat(ep: Endpoint) -> str:
        return f"meta l4proto {proto} dnat ip to {ep.ip}:{ep.port}"

    def to_endpoints(chain: str, endpoints: list[Endpoint]) -> None:
        lines = chains.setdefault(chain, [])
        if affinity:
            for ep in endpoints:
                epb = port.endpoint_chain_base(ep)
                lines.append(f"ip saddr @affinity-{epb} goto endpoint-{epb}")
        # One rule per endpoint, the i-th taken with probability 1/(N-i) of what reaches it,
        # so that each is picked with probability 1/N (kube-proxy: one `numgen random mod N
        # vmap` to endpoint chains; see the module's docstring for why not here).
        count = len(endpoints)
        for i, ep in enumerate(endpoints):
            action = f"goto endpoint-{port.endpoint_chain_base(ep)}" if affinity else dnat(ep)
            left = count - i
            lines.append(action if left == 1 else f"numgen random mod {left} == 0 {action}")

    if uses_cluster_chain:
        to_endpoints(cluster_chain, cat.cluster)
    if uses_local_chain:
        to_endpoints(local_chain, cat.local)

    for ep in cat.all_reachable:
        rules.elements[(HAIRPIN, f"{ep.ip} . {ep.ip}")] = ""
        if affinity:
            epb = port.endpoint_chain_base(ep)
            chains[f"endpoint-{epb}"] = [f"update @affinity-{epb} {{ ip saddr }}", dnat(ep)]

    for name, lines in chains.items():
        rules.chains[name] = (*rules.chains.get(name, ()), *lines)
