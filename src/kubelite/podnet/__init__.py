"""The pod network across hosts: routes from every node to every other node's pods.

The bridge CNI plugin wires a node's pods to its own bridge and gives them addresses from the
node's `spec.podCIDR`; nothing in it knows the other nodes. This package is what flannel adds
in k3s: a route agent, run by every `kubelite agent`, that watches the Nodes and keeps, for
each other node with a podCIDR, a way there:

- host-gw: `<podCIDR> via <node IP>` when that node is on a directly connected subnet
  (flannel's host-gw backend);
- vxlan: the kernel's VXLAN device `kubelite.1` (VNI 1, UDP 8472, as flannel.1) with a route,
  a neighbour and an FDB entry per node, exactly as flannel's vxlan backend writes them, for
  nodes that are not directly connected, or for all of them with `--flannel-backend vxlan`.

Each node publishes its VTEP's MAC and its public IP in flannel's own Node annotations, since
kubelite speaks flannel's wire format. `plan` decides what should exist (pure), `iproute`
reads and writes the kernel's tables with iproute2, `masquerade` keeps pod-to-pod traffic
from being masqueraded, `agent` reconciles and reports the NetworkUnavailable condition, and
`state` remembers what was made so that `kubelite reset` removes exactly that.
"""
