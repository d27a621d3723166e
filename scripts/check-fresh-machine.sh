#!/usr/bin/env bash
# Runs the README's two commands on a bare Debian 12, as a person who clones the repository would:
# a minimal root made by debootstrap (cached), the repository cloned into it with ../shared
# beside it, then `scripts/setup.sh`, the quick start's kubectl lines, `scripts/test.sh`, and
# `kubelite stop` and `reset`. It prints which step failed; the exit code is that step's.
#
#   scripts/check-fresh-machine.sh                 clone HEAD (what a person gets)
#   scripts/check-fresh-machine.sh --working-tree  copy the work tree, uncommitted changes too
#   scripts/check-fresh-machine.sh --keep          leave the root for a look (see the last line)
#   scripts/check-fresh-machine.sh -- ARGS         pass ARGS to scripts/test.sh (pytest's)
#
# The root runs in a mount and PID namespace of its own (unshare) as that namespace's root
# (pivot_root), with the host's /sys (and so its cgroup hierarchies) and /dev, a /proc of its
# own, and the host's resolver and CA bundle so that apt and PyPI answer. It shares the host's
# network namespace, as a machine's processes would: its cluster takes ports 6443 and 5000 on
# loopback while it runs. Everything the root's processes mount is gone with the namespace, and
# every process with the PID namespace; a failed step runs `kubelite stop` and `kubelite reset`
# for what lives outside them (cgroups, the bridge, iptables rules). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shared=$(cd .. && pwd)/shared

source_mode=head
keep=0
test_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --working-tree) source_mode=tree ;;
        --keep) keep=1 ;;
        --) shift; test_args=("$@"); break ;;
        *) echo "usage: $0 [--working-tree] [--keep] [-- TEST_ARGS...]" >&2; exit 2 ;;
    esac
    shift
done

[ "$(id -u)" -eq 0 ] || { echo "check-fresh-machine: needs root (namespaces, mounts)" >&2; exit 2; }
[ -d "$shared" ] || { echo "check-fresh-machine: no $shared beside the repository" >&2; exit 2; }
# The root's node uses the host's network namespace and cgroup hierarchies under kubelite's
# default names: beside a node of the host's own, one would break the other.
if [ -e /sys/class/net/kubelite0 ]; then
    echo "check-fresh-machine: this machine has a kubelite node (bridge kubelite0): run" \
        "\`kubelite stop\` and \`kubelite reset\` first" >&2
    exit 2
fi
for port in 6443 5000; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "check-fresh-machine: port $port on 127.0.0.1 is taken; the root's node needs it" >&2
        exit 2
    fi
done

# The cache holds the pristine root and the downloads of earlier runs; each run works on a copy.
cache=${KUBELITE_FRESH_CACHE:-/var/cache/kubelite/fresh-debian12}
base=$cache/base
mkdir -p "$cache/apt-archives" "$cache/pip"
exec 9>"$cache/lock"
flock -n 9 || { echo "check-fresh-machine: another check is running ($cache/lock)" >&2; exit 2; }

step() { printf '\n==> %s\n' "$*"; }

if [ ! -e "$base/.complete" ]; then
    step "building a minimal Debian 12 root with debootstrap (cached in $base)"
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    # Into a folder of its own first, so that an interrupted build is never taken for the cache.
    rm -rf --one-file-system "$base" "$base.new"
    debootstrap --variant=minbase bookworm "$base.new" http://deb.debian.org/debian \
        >"$cache/debootstrap.log" 2>&1 \
        || { echo "check-fresh-machine: debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }
    touch "$base.new/.complete"
    mv "$base.new" "$base"
fi

work=$(mktemp -d /var/tmp/kubelite-fresh.XXXXXX)
root=$work/root
ca=/etc/ssl/certs/host-ca-certificates.crt

# `inside CMD...` runs CMD on the root as a machine of its own runs it: in a mount and PID
# namespace of its own where the root is the namespace's real root (pivot_root, not a chroot:
# `runc exec` joins a container's mount namespace at that namespace's root, which under a chroot
# is the host's /, and an exec'd command would run in the host's files, not the container's).
# Before that: the root bound onto itself (pivot_root and runc need it to be a mount point), the
# host's /dev and /sys (with the cgroup hierarchies), a /proc of the new PID namespace, and the
# caches of downloads. The environment is a login shell's, with the host's proxy if it has one.
# It runs in the background, so that an interrupt can end it: with --kill-child, the namespace
# and every process in it end with unshare.
inside() {
    local env=(HOME=/root "TERM=${TERM:-dumb}" LANG=C.UTF-8
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    [ -f "$root$ca" ] && env+=("SSL_CERT_FILE=$ca" "PIP_CERT=$ca" "REQUESTS_CA_BUNDLE=$ca")
    local name
    for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -n "${!name:-}" ] && env+=("$name=${!name}")
    done
    unshare --mount --propagation private --pid --fork --kill-child -- /bin/bash -euc '
        root=$1 cache=$2 count=$3; shift 3
        mount --bind "$root" "$root"
        mount --rbind /dev "$root/dev"
        mount --rbind /sys "$root/sys"
        mount -t proc proc "$root/proc"
        mount -t tmpfs tmpfs "$root/run"
        mkdir -p "$root/var/cache/apt/archives" "$root/root/.cache/pip" "$root/.host"
        mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
        mount --bind "$cache/pip" "$root/root/.cache/pip"
        cd "$root"
        pivot_root . .host
        umount -l /.host
        rmdir /.host
        exec /usr/bin/env -i "${@:1:count}" "${@:count+1}"
    ' inside "$root" "$cache" "${#env[@]}" "${env[@]}" "$@" &
    unshare_pid=$!
    wait "$unshare_pid"
}

unshare_pid=
interrupted() {
    trap - INT TERM HUP
    echo "check-fresh-machine: interrupted; ending the root's processes" >&2
    [ -n "$unshare_pid" ] && kill -KILL "$unshare_pid" 2>/dev/null && wait "$unshare_pid" 2>/dev/null
    # The node's cgroups, bridge and iptables rules outlive the namespace: reset it.
    if [ -x "$root/work/kubelite/.venv/bin/kubelite" ]; then
        inside /work/kubelite/.venv/bin/kubelite reset >/dev/null 2>&1 \
            || echo "check-fresh-machine: kubelite reset failed in $root" >&2
    fi
    exit 130
}
cleanup() {
    local code=$?
    if [ "$keep" -eq 1 ]; then
        echo "check-fresh-machine: the root is kept at $root"
    else
        rm -rf --one-file-system "$work"
    fi
    exit "$code"
}
trap cleanup EXIT
trap interrupted INT TERM HUP

step "copying the root and laying the repository out in it"
cp -a "$base" "$root"
mkdir -p "$root/work"
if [ "$source_mode" = head ]; then
    git -c safe.directory="$repo" clone -q "$repo" "$root/work/kubelite"
else
    mkdir -p "$root/work/kubelite"
    git -c safe.directory="$repo" -C "$repo" ls-files -z --cached --others --exclude-standard \
        | tar -C "$repo" --null -T - --ignore-failed-read -cf - \
        | tar -C "$root/work/kubelite" -xf -
fi
cp -a "$shared" "$root/work/shared"
chmod -R a-w "$root/work/shared"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$root/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$root$ca"
fi

# What runs inside: the README's commands, in the order a person runs them.
cat >"$root/check.sh" <<'INSIDE'
#!/bin/bash
set -uo pipefail
cd /work/kubelite
fail() {
    printf '\ncheck-fresh-machine: FAILED at: %s (exit %s)\n' "$1" "$2"
    # What the node made outside this mount namespace (cgroups, its bridge, iptables rules)
    # would outlive it: tear the node down as a person would.
    if [ -x .venv/bin/kubelite ]; then
        .venv/bin/kubelite stop >/dev/null 2>&1
        .venv/bin/kubelite reset >/dev/null 2>&1 || echo "check-fresh-machine: kubelite reset failed"
    fi
    exit "$2"
}
run() { local name=$1; shift; printf '\n==> %s\n' "$name"; "$@" || fail "$name" $?; }

run "scripts/setup.sh" scripts/setup.sh
export KUBECONFIG=/etc/kubelite/kubelite.yaml
export PATH=/work/kubelite/.venv/bin:$PATH
run "kubectl apply -f examples/manifests/nginx-sidecar.yaml" kubectl apply -f examples/manifests/nginx-sidecar.yaml
run "kubectl wait for nginx-sidecar Ready" kubectl wait --for=condition=Ready pod/nginx-sidecar --timeout=120s
run "kubectl get pods -o wide" kubectl get pods -o wide
run "kubectl logs nginx-sidecar -c sidecar-access" kubectl logs nginx-sidecar -c sidecar-access
run "kubectl exec nginx-sidecar -c nginx -- nginx -v" kubectl exec nginx-sidecar -c nginx -- nginx -v
run "kubectl apply -f examples/manifests/myapp-pod.yaml" kubectl apply -f examples/manifests/myapp-pod.yaml
run "kubectl apply -f examples/companions/myapp-services.yaml" kubectl apply -f examples/companions/myapp-services.yaml
run "kubectl wait for myapp-pod Ready (its init containers resolved both Services)" kubectl wait --for=condition=Ready pod/myapp-pod --timeout=120s
run "kubectl logs myapp-pod" kubectl logs myapp-pod
run "kubelite get pods" kubelite get pods
run "kubectl delete -f examples/manifests/myapp-pod.yaml" kubectl delete -f examples/manifests/myapp-pod.yaml --grace-period=1
run "kubectl delete -f examples/companions/myapp-services.yaml" kubectl delete -f examples/companions/myapp-services.yaml
run "kubectl delete -f examples/manifests/nginx-sidecar.yaml" kubectl delete -f examples/manifests/nginx-sidecar.yaml
run "scripts/test.sh" scripts/test.sh "$@"
run "kubelite stop" kubelite stop
run "kubelite reset" kubelite reset
printf '\ncheck-fresh-machine: every step passed\n'
INSIDE
chmod +x "$root/check.sh"

step "running the README's commands inside $root"
set +e
inside /check.sh "${test_args[@]}"
code=$?
set -e
if [ "$code" -eq 0 ]; then
    echo "check-fresh-machine: passed"
else
    echo "check-fresh-machine: failed (exit $code)"
fi
exit "$code"
