"""Waiting for the pod CIDR the control plane gives this kubelet's Node.

A node started without `--pod-cidr` registers its Node without one; the controller manager's
node IPAM (`kubelite.controllers.nodeipam`) then sets `spec.podCIDR`. Until it does the node
cannot give its pods addresses. The real kubelet learns the CIDR from its Node on each status
update and hands it to the runtime (CRI UpdateRuntimeConfig); k3s' agent waits for it before it
starts flannel, logging "Waiting for node <name> CIDR not assigned yet" every 2 s, then "Node
CIDR assigned for: <name>". kubelite's kubelet waits the same way before it runs any pod, and
gives up after `POD_CIDR_TIMEOUT` with an error that names the likely causes rather than
waiting silently for ever.

Once set, a Node's pod CIDR never changes (the API server refuses), so a restarted node finds
its own again and its pods keep their addresses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from kubelite.api import meta
from kubelite.api.resources import NODES
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConnectionError, APIError

log = logging.getLogger(__name__)

# How long a node waits for its pod CIDR before it gives up.
POD_CIDR_TIMEOUT = 120.0
# The first looks come quickly (the allocator answers in well under a second), then every 2 s,
# as k3s polls.
FIRST_POLL = 0.05
POLL_INTERVAL = 2.0
# How often the wait is logged (k3s logs every poll; every 10 s says as much).
LOG_INTERVAL = 10.0


class PodCIDRTimeoutError(RuntimeError):
    """The Node got no pod CIDR in time."""


def timeout_message(node_name: str, waited: float) -> str:
    return (
        f"node {node_name} got no spec.podCIDR within {waited:.0f}s: no node IPAM controller "
        "gives out pod CIDRs (the control plane runs one unless started with "
        "--allocate-node-cidrs=false), or its cluster CIDR is full (look for "
        f"CIDRNotAvailable events: kubectl get events --field-selector "
        f"involvedObject.name={node_name}); or start the node with --pod-cidr"
    )


async def wait_for_pod_cidr(
    client: APIClient,
    node_name: str,
    *,
    timeout: float = POD_CIDR_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """The Node's spec.podCIDR, once it has one; PodCIDRTimeoutError after `timeout`."""
    started = clock()
    delay = FIRST_POLL
    next_log = started
    while True:
        problem = "CIDR not assigned yet"
        try:
            node = await client.get(NODES, node_name)
            cidr = meta.get_path(node, "spec", "podCIDR") or ""
            if cidr:
                log.info("Node CIDR assigned for: %s (%s)", node_name, cidr)
                return str(cidr)
        except (APIError, APIConnectionError) as e:
            problem = str(e)
        now = clock()
        if now - started >= timeout:
            raise PodCIDRTimeoutError(timeout_message(node_name, now - started))
        if now >= next_log:
            log.info("Waiting for node %s: %s", node_name, problem)
            next_log = now + LOG_INTERVAL
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_INTERVAL)
