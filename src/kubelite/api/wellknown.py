"""The ports and paths every kubelite component agrees on without being told.

A kubelet's port is in the Node it reports and in the API server's dial to it; the admin
kubeconfig's path is where `kubelite server` writes it and where the client looks for it; the
data directory is shared by the server, the agent, `reset`, `stop` and `image`. Each is named
once here, beside where Kubernetes or k3s defines it, so that two components cannot drift
apart.
"""

from __future__ import annotations

from pathlib import Path

# The API server's secure port: k3s' --https-listen-port (kube-apiserver's own is 6443 too).
API_SERVER_PORT = 6443
# The kubelet's --port (Kubernetes' pkg/cluster/ports.KubeletPort), reported in the Node's
# status.daemonEndpoints and dialled by the API server for logs, exec and port-forward.
KUBELET_PORT = 10250
# The cluster DNS server's port on the node's address (CoreDNS' 53).
CLUSTER_DNS_PORT = 53

# Where nodes' Leases live (NamespaceNodeLease).
NODE_LEASE_NAMESPACE = "kube-node-lease"
# The ConfigMap in every namespace that holds the cluster's CA for pods (rootcacertpublisher).
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
# The kubelet's default --max-pods, the Node's pods capacity.
DEFAULT_MAX_PODS = 110

# Where a node keeps its state (k3s: /var/lib/rancher/k3s): store, certificates, images,
# containers, volumes. `kubelite.cli.flags.NodeLayout` says what lives where below it.
DEFAULT_DATA_DIR = Path("/var/lib/kubelite")
# Where `kubelite server` also writes the admin kubeconfig for the default data directory, and
# where the client looks last (k3s: /etc/rancher/k3s/k3s.yaml).
ADMIN_KUBECONFIG = Path("/etc/kubelite/kubelite.yaml")
# Registry mirrors and credentials for the node's image pulls (k3s: registries.yaml).
REGISTRIES_CONFIG = Path("/etc/kubelite/registries.yaml")
# Where the kubelet keeps container logs, for the default data directory:
# /var/log/pods/<namespace>_<name>_<uid>/<container>/N.log (Kubernetes' podLogsRootDirectory).
POD_LOGS_ROOT = Path("/var/log/pods")
