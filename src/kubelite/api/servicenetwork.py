"""The Service network: the range ClusterIPs come from, the node-port range, and the two
addresses every cluster reserves in it (the `kubernetes` Service's and the cluster DNS').

Defaults are k3s' (`--service-cidr 10.43.0.0/16`, `--cluster-dns 10.43.0.10`), so that the API
server's allocator, the kube-dns Service and each kubelet's resolv.conf agree.
"""

from __future__ import annotations

import ipaddress

# kube-apiserver's --service-cluster-ip-range (as k3s sets it) and --service-node-port-range:
# Defaults of `kubelite server --service-cidr` and `--service-node-port-range`.
SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")
NODE_PORT_RANGE = (30000, 32767)
KUBERNETES_SERVICE_IP = str(SERVICE_CIDR.network_address + 1)
# The kube-dns Service's address: the tenth of the range, as k3s and kubeadm choose it.
CLUSTER_DNS_SERVICE_IP = str(SERVICE_CIDR.network_address + 10)
# The cluster's DNS domain when none is given (kubelet --cluster-domain and CoreDNS' zone, as
# k3s sets them).
CLUSTER_DOMAIN = "cluster.local"

ServiceNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def kubernetes_service_ip(cidr: ServiceNetwork) -> str:
    """The `kubernetes` Service's address: the first of the service range."""
    return str(cidr.network_address + 1)


def cluster_dns_ip(cidr: ServiceNetwork) -> str:
    """The cluster DNS Service's address: the tenth of the service range (k3s' --cluster-dns)."""
    return str(cidr.network_address + 10)


def parse_service_cidr(text: str) -> ServiceNetwork:
    """A service range as kube-apiserver's --service-cluster-ip-range takes it."""
    try:
        cidr = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as e:
        raise ValueError(f"invalid service CIDR {text!r}: {e}") from None
    if cidr.num_addresses < 8:
        raise ValueError(f"service CIDR {text} is too small: it must hold at least 8 addresses")
    return cidr


def parse_node_port_range(text: str) -> tuple[int, int]:
    """`30000-32767` (or one port) as --service-node-port-range takes it (utilnet.PortRange)."""
    low_text, _, high_text = text.strip().partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise ValueError(f"invalid node port range {text!r}: want LOW-HIGH") from None
    if not 0 < low <= high <= 65535:
        raise ValueError(f"invalid node port range {text!r}: want 1 <= LOW <= HIGH <= 65535")
    return low, high
