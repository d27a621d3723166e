"""Answers for the cluster domain, by the Kubernetes DNS specification as CoreDNS gives them.

A name under `cluster.local` is read as CoreDNS' `kubernetes` plugin reads it
(plugin/kubernetes/parse.go): `[endpoint | _port._proto].<service>.<ns>.svc.<zone>` or
`<a-b-c-d>.<ns>.pod.<zone>` (the `pods insecure` mode of the default Corefile). Looking it up
gives a list of targets (addresses with a port and the name they go by, or an ExternalName's
CNAME) or "no such name"; each query type then takes what it can from that list:

- no such name: NXDOMAIN (SERVFAIL while the informers have not listed yet);
- a name that exists but has nothing of the type asked for: NOERROR with no answer
  (`<ns>.svc.<zone>` of an existing namespace, `svc.<zone>`, AAAA of an IPv4 Service, ...);
- both negative answers carry the zone's SOA in the authority section, whose minimum (5 s)
  is how long resolvers may cache them.

Where CoreDNS answers a TXT or SOA question for an existing name with NXDOMAIN (it only looks
for records, so `<ns>.svc.<zone>` comes out "missing"), this answers NOERROR: an NXDOMAIN
there would tell RFC 8020 resolvers that every Service in the namespace is gone.

Reverse names (`in-addr.arpa`, `ip6.arpa`) are answered for Service cluster IPs and ready
endpoint addresses; any other reverse name is left to the upstream resolvers, as the default
Corefile's `fallthrough in-addr.arpa ip6.arpa` does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dnslib import (
    AAAA,
    CNAME,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
)

from kubelite.api.servicenetwork import CLUSTER_DOMAIN
from kubelite.dns.index import NO_PORT, ClusterIndex

# CoreDNS' kubernetes plugin answers with a TTL of 5 s (its `ttl` option's default).
TTL = 5
# The schema version record: the specification's `dns-version.<zone>` TXT, with CoreDNS' TTL.
SCHEMA_VERSION = "1.1.0"
SCHEMA_VERSION_TTL = 28800
# The SOA CoreDNS makes for the zone (plugin/backend_lookup.go SOA).
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 7200, 1800, 86400
# How many CNAMEs an ExternalName chain may follow inside the zone (CoreDNS stops at 8).
MAX_CNAME_CHAIN = 8
# The Service CoreDNS' NS and `ns.dns.<zone>` answers point at.
DNS_SERVICE = ("kube-system", "kube-dns")

_ADDRESS_TYPES = {QTYPE.A: 4, QTYPE.AAAA: 6}


@dataclass(frozen=True)
class Target:
    """One thing a name leads to: an address (with a port, and the name it has for SRV
    targets) or, for an ExternalName Service, another name (`cname`)."""

    host: str
    port: int = NO_PORT
    # The domain name SRV records point at: `<svc>.<ns>.svc.<zone>` or
    # `<hostname>.<svc>.<ns>.svc.<zone>`.
    domain: str = ""
    cname: bool = False


@dataclass
class ZoneReply:
    """The answer for a question inside the cluster domain, in sections, with a target outside the
    zone left for the server to chase upstream."""

    rcode: int
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    # An ExternalName's target outside the zone, with the type asked for: the server asks the
    # upstream resolvers for it and appends their records after the CNAME.
    chase: tuple[str, int] | None = None


class NoSuchName(Exception):
    """The name does not exist (CoreDNS' errNoItems, errNsNotExposed, errInvalidRequest)."""


def _strip_underscore(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def _matches(wanted: str, value: str) -> bool:
    """A port name or protocol from the query against one of a Service: empty matches all."""
    return not wanted or wanted == value.lower()


def reverse_address(name: str) -> str | None:
    """The address a reverse name stands for (`4.3.2.1.in-addr.arpa` -> `1.2.3.4`)."""
    if name.endswith(".in-addr.arpa"):
        labels = name[: -len(".in-addr.arpa")].split(".")
        if len(labels) != 4:
            return None
        text = ".".join(reversed(labels))
    elif name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        digits = "".join(reversed(nibbles))
        text = ":".join(digits[i : i + 4] for i in range(0, 32, 4))
    else:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class Zone:
    """The answers of one cluster domain, from a `ClusterIndex`."""

    def __init__(self, index: ClusterIndex, domain: str = CLUSTER_DOMAIN) -> None:
        self.index = index
        self.domain = domain.strip(".").lower()
        self._suffix = "." + self.domain

    def owns(self, name: str) -> bool:
        """Whether a lower-case name (no final dot) is in the cluster domain."""
        return name == self.domain or name.endswith(self._suffix)

    def soa(self) -> RR:
        return RR(
            self.domain + ".",
            QTYPE.SOA,
            ttl=TTL,
            rdata=SOA(
                f"ns.dns.{self.domain}.",
                f"hostmaster.{self.domain}.",
                (self.index.modified & 0xFFFFFFFF, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, TTL),
            ),
        )

    def _negative(self, rcode: int) -> ZoneReply:
        if rcode == RCODE.NXDOMAIN and not self.index.synced():
            return ZoneReply(RCODE.SERVFAIL, authority=[self.soa()])
        return ZoneReply(rcode, authority=[self.soa()])

    def answer(self, qname: str, qtype: int) -> ZoneReply | None:
        """The reply to a question of class IN, or None when the name is not answered here
        (outside the zone, or a reverse name of no cluster address): forward it."""
        name = qname.rstrip(".").lower()
        if not self.owns(name):
            return self._reverse(qname, name) if qtype == QTYPE.PTR else None
        if qtype in (QTYPE.AXFR, QTYPE.IXFR):
            return ZoneReply(RCODE.REFUSED)
        base = name[: -len(self._suffix)] if name != self.domain else ""
        if base == "":
            return self._apex(qtype)
        if base == "dns-version" and qtype == QTYPE.TXT:
            txt = RR(qname, QTYPE.TXT, ttl=SCHEMA_VERSION_TTL, rdata=TXT(SCHEMA_VERSION))
            return ZoneReply(RCODE.NOERROR, answer=[txt])
        if base == "ns.dns":
            return self._nameserver_name(qname, qtype)
        try:
            targets = self.lookup(base)
        except NoSuchName:
            return self._negative(RCODE.NXDOMAIN)
        reply = ZoneReply(RCODE.NOERROR)
        if qtype in _ADDRESS_TYPES:
            self._addresses(qname, name, qtype, targets, reply, chain=0)
        elif qtype == QTYPE.SRV:
            self._srv(qname, targets, reply)
        elif qtype == QTYPE.CNAME and targets and targets[0].cname:
            reply.answer.append(self._cname(qname, targets[0].host))
        if not reply.answer and reply.chase is None:
            return self._negative(RCODE.NOERROR)
        return reply

    def _apex(self, qtype: int) -> ZoneReply:
        zone = self.domain + "."
        if qtype == QTYPE.SOA:
            return ZoneReply(RCODE.NOERROR, answer=[self.soa()])
        if qtype == QTYPE.NS:
            server = f"ns.dns.{zone}"
            return ZoneReply(
                RCODE.NOERROR,
                answer=[RR(zone, QTYPE.NS, ttl=TTL, rdata=NS(server))],
                additional=self._nameserver_addresses(server, None),
            )
        return self._negative(RCODE.NOERROR)

    def _nameserver_addresses(self, owner: str, qtype: int | None) -> list[RR]:
        records = []
        for version, rtype, rdata in ((4, QTYPE.A, A), (6, QTYPE.AAAA, AAAA)):
            if qtype not in (None, rtype):
                continue
            for ip in self.index.service_ips(*DNS_SERVICE, version):
                records.append(RR(owner, rtype, ttl=TTL, rdata=rdata(ip)))
        return records

    def _nameserver_name(self, qname: str, qtype: int) -> ZoneReply:
        records = self._nameserver_addresses(qname, qtype) if qtype in _ADDRESS_TYPES else []
        if not records:
            return self._negative(RCODE.NOERROR)
        return ZoneReply(RCODE.NOERROR, answer=records)

    def lookup(self, base: str) -> list[Target]:
        """What `base` (the name without the zone, lower case) leads to; raises NoSuchName
        for a name that does not exist. An empty list is a name with no records."""
        labels = base.split(".")
        if base in ("svc", "pod"):
            return []
        kind = labels[-1]
        if kind not in ("svc", "pod") or len(labels) > 5:
            raise NoSuchName(base)
        namespace = labels[-2]
        if namespace not in self.index.namespaces:
            raise NoSuchName(base)
        if len(labels) == 2:
            return []
        if kind == "pod":
            return self._pod(labels[-3])
        rest = labels[:-3]
        endpoint = rest[0] if len(rest) == 1 else ""
        port, protocol = (
            (_strip_underscore(rest[0]), _strip_underscore(rest[1])) if len(rest) == 2 else ("", "")
        )
        return self._service(namespace, labels[-3], endpoint, port, protocol)

    @staticmethod
    def _pod(name: str) -> list[Target]:
        # `1-2-3-4` is an IPv4 address; anything else with dashes is read as IPv6 (`fd00--5`).
        text = (
            name.replace("-", ".")
            if name.count("-") == 3 and "--" not in name
            else name.replace("-", ":")
        )
        try:
            return [Target(str(ipaddress.ip_address(text)))]
        except ValueError:
            raise NoSuchName(name) from None

    def _service(
        self, namespace: str, name: str, endpoint: str, port: str, protocol: str
    ) -> list[Target]:
        service = self.index.services.get((namespace, name))
        if service is None:
            raise NoSuchName(name)
        domain = f"{name}.{namespace}.svc.{self.domain}."
        if service.kind == "ExternalName":
            if endpoint or _is_ip(service.external_name) or not service.external_name:
                raise NoSuchName(name)
            return [Target(service.external_name.rstrip(".") + ".", domain=domain, cname=True)]
        targets: list[Target] = []
        if service.kind == "Headless" or endpoint:
            for piece in self.index.service_slices(namespace, name):
                for ep in piece.endpoints:
                    if endpoint and endpoint != ep.hostname.lower():
                        continue
                    for p in piece.ports:
                        if _matches(port, p.name) and _matches(protocol, p.protocol):
                            targets.append(Target(ep.ip, p.port, f"{ep.hostname}.{domain}"))
        else:
            for p in service.ports:
                if _matches(port, p.name) and _matches(protocol, p.protocol):
                    targets.extend(Target(ip, p.port, domain) for ip in service.cluster_ips)
                    if not service.cluster_ips:
                        # A Service whose address is not allocated yet: it exists, no data.
                        targets.append(Target("", NO_PORT, domain))
        if not targets:
            raise NoSuchName(name)
        return targets

    def _cname(self, owner: str, target: str) -> RR:
        return RR(owner, QTYPE.CNAME, ttl=TTL, rdata=CNAME(target))

    def _addresses(
        self,
        owner: str,
        name: str,
        qtype: int,
        targets: list[Target],
        reply: ZoneReply,
        chain: int,
    ) -> None:
        """A/AAAA records of `targets`, following ExternalName CNAMEs (CoreDNS' plugin.A)."""
        version = _ADDRESS_TYPES[qtype]
        rdata = A if qtype == QTYPE.A else AAAA
        seen: set[str] = set()
        for target in targets:
            if target.cname:
                destination = target.host.rstrip(".").lower()
                if destination == name or chain >= MAX_CNAME_CHAIN:
                    continue  # x CNAME x, or a chain too long: CoreDNS leaves it out
                record = self._cname(owner, target.host)
                if not self.owns(destination):
                    reply.answer.append(record)
                    reply.chase = (target.host, qtype)
                    continue
                inner = ZoneReply(RCODE.NOERROR)
                try:
                    more = self.lookup(destination[: -len(self._suffix)])
                except NoSuchName:
                    continue
                self._addresses(target.host, destination, qtype, more, inner, chain + 1)
                if inner.answer:
                    reply.answer.append(record)
                    reply.answer.extend(inner.answer)
                    reply.chase = inner.chase
                continue
            # Targets other than CNAMEs are addresses from the API (or "" when not allocated).
            if not target.host or target.host in seen or _version(target.host) != version:
                continue
            seen.add(target.host)
            reply.answer.append(RR(owner, qtype, ttl=TTL, rdata=rdata(target.host)))

    def _srv(self, owner: str, targets: list[Target], reply: ZoneReply) -> None:
        """SRV records with the targets' addresses in the additional section (plugin.SRV):
        priority 0, and weights that share 100 among the records."""
        usable = [t for t in targets if not t.cname and t.host]
        if not usable:
            return
        weight = max(1, 100 // len(usable))
        seen_srv: set[tuple[str, int]] = set()
        seen_address: set[tuple[str, str]] = set()
        for target in usable:
            if target.port == NO_PORT:
                continue
            if (target.domain, target.port) not in seen_srv:
                seen_srv.add((target.domain, target.port))
                reply.answer.append(
                    RR(owner, QTYPE.SRV, ttl=TTL, rdata=SRV(0, weight, target.port, target.domain))
                )
            if (target.domain, target.host) not in seen_address:
                seen_address.add((target.domain, target.host))
                v6 = _version(target.host) == 6
                reply.additional.append(
                    RR(
                        target.domain,
                        QTYPE.AAAA if v6 else QTYPE.A,
                        ttl=TTL,
                        rdata=(AAAA if v6 else A)(target.host),
                    )
                )

    def _reverse(self, qname: str, name: str) -> ZoneReply | None:
        """PTR for a Service's cluster IP, else for each endpoint with that address."""
        ip = reverse_address(name)
        if ip is None:
            return None
        names: list[str] = []
        for namespace, service in self.index.by_cluster_ip.get(ip, ())[:1]:
            names.append(f"{service}.{namespace}.svc.{self.domain}.")
        if not names:
            for namespace, service in sorted(self.index.by_endpoint_ip.get(ip, ())):
                for piece in self.index.service_slices(namespace, service):
                    for ep in piece.endpoints:
                        domain = f"{ep.hostname}.{service}.{namespace}.svc.{self.domain}."
                        if ep.ip == ip and domain not in names:
                            names.append(domain)
        if not names:
            return None
        return ZoneReply(
            RCODE.NOERROR, answer=[RR(qname, QTYPE.PTR, ttl=TTL, rdata=PTR(n)) for n in names]
        )


def _version(address: str) -> int:
    """The IP version of an address known to be one (cheaper than parsing it again)."""
    return 6 if ":" in address else 4


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
