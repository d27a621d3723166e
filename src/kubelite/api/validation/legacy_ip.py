"""IP and CIDR values of the fields that predate strict validation (KEP-4858).

Kubernetes validates these "legacy" fields (Service clusterIPs, externalIPs,
loadBalancerSourceRanges and load-balancer ingress IPs, Node podCIDRs, Endpoints and EndpointSlice
addresses, Pod status IPs, host aliases and DNS nameservers) with
`utilvalidation.IsValidIPForLegacyField` and `IsValidCIDRForLegacyField`. Both first parse the
value as `netutils.ParseIPSloppy`/`ParseCIDRSloppy` do, forks of Go 1.16's parser that ignore
leading zeros in IPv4 octets and prefix lengths. With the `StrictIPCIDRValidation` gate on (beta
and on by default since 1.36, kubernetes#137053) they then also refuse what different software
would read differently: IPv4 octets with leading zeros (`010.0.0.1` is 8.0.0.1 to libc),
IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`), and CIDR values with bits set beyond the prefix
length (`192.168.0.5/24`: the subnet or the one address?).

Values the object already held are accepted unchanged on update (`validOldIPs`): an object
stored before the gate can still be edited without fixing them. Non-canonical IPv6 (`FE80::1`)
stays valid in these fields.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from kubelite.api.errors import FieldError, invalid

# The gate's 1.37 default; kubelite has no way to turn it off.
STRICT_IP_CIDR_VALIDATION = True

INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
INVALID_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
# parseIP and parseCIDR's strict errors (staging/src/k8s.io/apimachinery/pkg/util/validation/ip.go).
IP_LEADING_ZEROS = "must not have leading 0s"
IP_4_IN_6 = "must not be an IPv4-mapped IPv6 address"
CIDR_LEADING_ZEROS = "must not have leading 0s in IP or prefix length"
CIDR_4_IN_6 = "must not have an IPv4-mapped IPv6 address"
CIDR_HOST_BITS = "must not have bits set beyond the prefix length"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _decimal(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_ip_sloppy(text: str) -> Address | None:
    """netutils.ParseIPSloppy: IPv4 octets may carry leading zeros; no zones, no brackets."""
    parts = text.split(".")
    if len(parts) == 4 and all(_decimal(p) and int(p) <= 255 for p in parts):
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    if ":" not in text or "%" in text:
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def _leading_zeros(text: str) -> bool:
    """Whether a dotted IPv4 address has an octet written with a leading zero (netip refuses
    it, where ParseIPSloppy read it as decimal)."""
    return ":" not in text and any(len(p) > 1 and p.startswith("0") for p in text.split("."))


def _mapped(address: Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


def validate_ip(value: str, path: str, valid_old: Collection[str] = ()) -> list[FieldError]:
    """IsValidIPForLegacyField, with the gate's 1.37 default."""
    if value in valid_old:
        return []
    address = parse_ip_sloppy(value)
    if address is None:
        return [invalid(path, value, INVALID_IP)]
    if not STRICT_IP_CIDR_VALIDATION:
        return []
    errs: list[FieldError] = []
    if _leading_zeros(value):
        errs.append(invalid(path, value, IP_LEADING_ZEROS))
    if _mapped(address):
        errs.append(invalid(path, value, IP_4_IN_6))
    return errs


def parse_cidr_sloppy(text: str) -> tuple[Address, int] | None:
    """netutils.ParseCIDRSloppy: the address as ParseIPSloppy reads it, then a decimal prefix
    length (leading zeros allowed, no sign) within the address's size."""
    address_text, slash, prefix = text.partition("/")
    if not slash or not _decimal(prefix):
        return None
    address = parse_ip_sloppy(address_text)
    if address is None or int(prefix) > address.max_prefixlen:
        return None
    return address, int(prefix)


def validate_cidr(value: str, path: str, valid_old: Collection[str] = ()) -> list[FieldError]:
    """IsValidCIDRForLegacyField, with the gate's 1.37 default: one error at most, the first
    of leading zeros, an IPv4-mapped address, or bits beyond the prefix length."""
    if value in valid_old:
        return []
    parsed = parse_cidr_sloppy(value)
    if parsed is None:
        return [invalid(path, value, INVALID_CIDR)]
    if not STRICT_IP_CIDR_VALIDATION:
        return []
    address, length = parsed
    address_text, _, prefix = value.partition("/")
    if _leading_zeros(address_text) or (len(prefix) > 1 and prefix.startswith("0")):
        return [invalid(path, value, CIDR_LEADING_ZEROS)]
    if _mapped(address):
        return [invalid(path, value, CIDR_4_IN_6)]
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    if network.network_address != address:
        return [invalid(path, value, CIDR_HOST_BITS)]
    return []
