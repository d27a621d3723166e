"""The blocks of one cluster CIDR that node IPAM hands out, and which of them are taken.

Kubernetes' `pkg/controller/nodeipam/ipam/cidrset` (CidrSet): the cluster CIDR is cut into
2^(node mask - cluster mask) blocks of the node mask size, numbered from the start of the range;
a bitmap says which are used. `allocate_next` takes the first free block at or after the one
after the last it gave (so a block just released is not handed straight back to the next node),
wrapping around; `occupy` and `release` mark every block a CIDR covers, whatever its size, and
neither checks what the bits were before (two nodes with the same CIDR both occupy it).
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# cidrset's clusterSubnetMaxDiff: an IPv6 node mask may be at most 16 bits longer than the
# cluster's, since the bitmap is not compressed.
CLUSTER_SUBNET_MAX_DIFF = 16


class CIDRSetError(ValueError):
    """A CIDR this set cannot take: outside the cluster CIDR, or a set that cannot be made."""


class NoCIDRsRemainingError(CIDRSetError):
    """Every block is taken (cidrset's ErrCIDRRangeNoCIDRsRemaining)."""

    def __init__(self) -> None:
        super().__init__(
            "CIDR allocation failed; there are no remaining CIDRs left to allocate in the "
            "accepted range"
        )


class CIDRSet:
    """Which node-sized blocks of `cluster_cidr` are in use."""

    def __init__(self, cluster_cidr: Network, node_mask_size: int) -> None:
        if node_mask_size < cluster_cidr.prefixlen:
            raise CIDRSetError(
                f"the node CIDR mask size {node_mask_size} is smaller than the cluster CIDR's "
                f"({cluster_cidr})"
            )
        if node_mask_size > cluster_cidr.max_prefixlen:
            raise CIDRSetError(
                f"the node CIDR mask size {node_mask_size} is longer than an IPv"
                f"{cluster_cidr.version} address"
            )
        diff = node_mask_size - cluster_cidr.prefixlen
        if cluster_cidr.version == 6 and diff > CLUSTER_SUBNET_MAX_DIFF:
            # ErrCIDRSetSubNetTooBig.
            raise CIDRSetError("New CIDR set failed; the node CIDR size is too big")
        self.cluster_cidr = cluster_cidr
        self.node_mask_size = node_mask_size
        self.max_cidrs = 1 << diff
        self._host_bits = cluster_cidr.max_prefixlen - node_mask_size
        self._used = 0
        self._next_candidate = 0

    def _block(self, index: int) -> Network:
        address = int(self.cluster_cidr.network_address) | (index << self._host_bits)
        return ipaddress.ip_network((address, self.node_mask_size))

    def _indices(self, cidr: Network) -> range:
        """The blocks `cidr` covers (all of them for a CIDR larger than the cluster's)."""
        if cidr.version != self.cluster_cidr.version or not (cidr.overlaps(self.cluster_cidr)):
            raise CIDRSetError(f"cidr {cidr} is out the range of cluster cidr {self.cluster_cidr}")
        if cidr.prefixlen <= self.cluster_cidr.prefixlen:
            return range(self.max_cidrs)
        base = int(self.cluster_cidr.network_address)
        first = (int(cidr.network_address) - base) >> self._host_bits
        last = (int(cidr.broadcast_address) - base) >> self._host_bits
        return range(first, last + 1)

    def allocate_next(self) -> Network:
        """Take the next free block and return it; NoCIDRsRemainingError when none is."""
        for step in range(self.max_cidrs):
            candidate = (self._next_candidate + step) % self.max_cidrs
            if not self._used >> candidate & 1:
                self._used |= 1 << candidate
                self._next_candidate = (candidate + 1) % self.max_cidrs
                return self._block(candidate)
        raise NoCIDRsRemainingError()

    def occupy(self, cidr: Network) -> None:
        """Mark the blocks `cidr` covers as used (a node that came with its own)."""
        for index in self._indices(cidr):
            self._used |= 1 << index

    def release(self, cidr: Network) -> None:
        """Mark the blocks `cidr` covers as free again (its node was deleted)."""
        for index in self._indices(cidr):
            self._used &= ~(1 << index)

    def is_used(self, cidr: Network) -> bool:
        """Whether every block `cidr` covers is taken."""
        return all(self._used >> index & 1 for index in self._indices(cidr))

    @property
    def used_count(self) -> int:
        return self._used.bit_count()
