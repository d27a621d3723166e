"""What authorization adds to a pod create: RBAC with 1,000 roles and 1,000 bindings, against
authorization off (`--authorization-mode AlwaysAllow`), in the same run.

Two fresh `kubelite server`s (scheduler off, as api_bench runs them). On the RBAC one, the
namespace holds 1,000 Roles and 1,000 RoleBindings, ten of them naming the benchmark user's
group and the rest other users and groups, and the user creates pods through `edit`. The user
is a client certificate from `kubelite kubeconfig` (not in system:masters, which would skip
RBAC). Creates run from 1 and 16 concurrent clients; the two servers are measured in
alternation, several rounds, and medians are reported. Aim (issue 15): under 5% added latency.

Run: `.venv/bin/python bench/authz_bench.py [--rounds N] [--creates N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from tests.integration.cluster import Cluster, wait_for  # noqa: E402

import api_bench  # noqa: E402
import create_cpu  # noqa: E402

ROLES = 1000
BINDINGS = 1000
NAMESPACE = "bench"
GROUP = "bench-users"


def user_context(kubeconfig: Path) -> ssl.SSLContext:
    """TLS as the kubeconfig's user (its CA, its client certificate)."""
    config = yaml.safe_load(kubeconfig.read_text())
    tmp = Path(tempfile.mkdtemp())
    ca = tmp / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    user = config["users"][0]["user"]
    cert, key = tmp / "u.crt", tmp / "u.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def policy_objects() -> Iterator[dict[str, Any]]:
    """1,000 Roles and 1,000 RoleBindings; ten bindings name the user's group."""
    for i in range(ROLES):
        yield {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"role-{i}", "namespace": NAMESPACE},
            "rules": [
                {"apiGroups": [""], "resources": [f"things{i}"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
            ],
        }
    for i in range(BINDINGS):
        subject = (
            {"kind": "Group", "name": GROUP}
            if i % 100 == 0
            else {"kind": "User", "name": f"someone-{i}"}
        )
        yield {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"binding-{i}", "namespace": NAMESPACE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"role-{i}",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", **subject}],
        }


async def post(session: aiohttp.ClientSession, url: str, obj: dict[str, Any]) -> None:
    async with session.post(
        url, data=orjson.dumps(obj), headers={"Content-Type": "application/json"}
    ) as response:
        if response.status != 201:
            raise RuntimeError(f"{url}: {response.status} {await response.text()}")


async def prepare(cluster: Cluster, rbac: bool, tmp: Path) -> ssl.SSLContext:
    """The namespace, the policy (on the RBAC server) and the user's TLS context."""
    kubeconfig = tmp / f"user-{'rbac' if rbac else 'off'}.yaml"
    cluster.kubelite(
        "kubeconfig",
        "--user",
        "bench",
        "--group",
        GROUP,
        "--data-dir",
        str(cluster.data_dir),
        "-o",
        str(kubeconfig),
    )
    connector = aiohttp.TCPConnector(ssl=api_bench.tls_context(cluster), limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        await api_bench.create_namespace(session, cluster.url, NAMESPACE)
        if rbac:
            base = f"{cluster.url}/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}"
            objects = list(policy_objects())
            for start in range(0, len(objects), 32):
                await asyncio.gather(
                    *(
                        post(session, f"{base}/{o['kind'].lower()}s", o)
                        for o in objects[start : start + 32]
                    )
                )
            await post(
                session,
                f"{base}/rolebindings",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": "bench-edit", "namespace": NAMESPACE},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "edit",
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": GROUP}
                    ],
                },
            )
    context = user_context(kubeconfig)

    def can_create() -> bool:
        answer = cluster.kubectl(
            "auth",
            "can-i",
            "create",
            "pods",
            "-n",
            NAMESPACE,
            "--as=bench",
            f"--as-group={GROUP}",
            check=False,
        )
        return answer.stdout == "yes\n"

    if rbac:
        # The binding reaches the authorizer's cache by watch: wait for it.
        wait_for("the user to be allowed pod creates", can_create, timeout=60)
    return context


async def measure(
    cluster: Cluster, context: ssl.SSLContext, concurrency: int, creates: int, tag: str
) -> dict[str, float]:
    """Creates as the user: their rate and latency, and the API server's own CPU time per
    create (utime + stime from /proc), which the other server's activity does not blur."""
    assert cluster.process is not None
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await api_bench.create_burst(session, cluster.url, NAMESPACE, concurrency, 50, f"w{tag}")
        cpu_before = create_cpu.cpu_seconds(cluster.process.pid)
        seconds, latencies = await api_bench.create_burst(
            session, cluster.url, NAMESPACE, concurrency, creates, tag
        )
        cpu = create_cpu.cpu_seconds(cluster.process.pid) - cpu_before
    return {
        "per_second": creates / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": api_bench.percentile(latencies, 0.99) * 1000,
        "server_cpu_us": cpu / creates * 1e6,
    }


@contextlib.contextmanager
def running(base: Path, mode: str) -> Iterator[Cluster]:
    (base / mode).mkdir(parents=True, exist_ok=True)
    cluster = Cluster(
        base / mode / "data",
        base / mode / "cache",
        extra_args=[*api_bench.SERVER_ARGS, "--authorization-mode", mode],
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def run(rounds: int, creates: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rounds": rounds, "creates": creates, "by_concurrency": {}}
    with tempfile.TemporaryDirectory() as tmp_dir:
        base = Path(tmp_dir)
        with running(base, "RBAC") as rbac, running(base, "AlwaysAllow") as off:
            contexts = {
                "RBAC": await prepare(rbac, True, base),
                "AlwaysAllow": await prepare(off, False, base),
            }
            clusters = {"RBAC": rbac, "AlwaysAllow": off}
            for concurrency in (1, 16):
                rows: dict[str, list[dict[str, float]]] = {"RBAC": [], "AlwaysAllow": []}
                for r in range(rounds):
                    order = ("RBAC", "AlwaysAllow") if r % 2 == 0 else ("AlwaysAllow", "RBAC")
                    for mode in order:
                        tag = f"c{concurrency}-r{r}-{time.monotonic_ns()}"
                        rows[mode].append(
                            await measure(clusters[mode], contexts[mode], concurrency, creates, tag)
                        )
                summary: dict[str, Any] = {
                    mode: {
                        key: statistics.median(row[key] for row in found)
                        for key in ("per_second", "p50_ms", "p99_ms", "server_cpu_us")
                    }
                    for mode, found in rows.items()
                }
                summary["added_p50_percent"] = 100 * (
                    summary["RBAC"]["p50_ms"] / summary["AlwaysAllow"]["p50_ms"] - 1
                )
                summary["added_cpu_percent"] = 100 * (
                    summary["RBAC"]["server_cpu_us"] / summary["AlwaysAllow"]["server_cpu_us"] - 1
                )
                summary["rounds"] = rows
                results["by_concurrency"][str(concurrency)] = summary
    return results


def decision_cost(repeats: int = 20_000) -> dict[str, float]:
    """The authorizer's decision alone, in process, for the benchmark user over the same
    policy plus Kubernetes' defaults: microseconds per allowed create, and per refusal."""
    from kubelite.apiserver.auth import User
    from kubelite.apiserver.rbac import bootstrap_policy
    from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer
    from kubelite.apiserver.rbac.policy import PolicyCache
    from kubelite.controllers.clusterroleaggregation import aggregated_rules

    policy = PolicyCache(store=None)  # type: ignore[arg-type]  # fed by hand, never started
    for role in bootstrap_policy.cluster_roles():
        policy.apply(f"/registry/clusterroles/{role['metadata']['name']}", orjson.dumps(role))
    for binding in bootstrap_policy.cluster_role_bindings():
        name = binding["metadata"]["name"]
        policy.apply(f"/registry/clusterrolebindings/{name}", orjson.dumps(binding))
    roles = bootstrap_policy.cluster_roles()
    edit = next(r for r in roles if r["metadata"]["name"] == "edit")
    # As the aggregation controller fills it.
    edit["rules"] = aggregated_rules(edit, roles)
    policy.apply("/registry/clusterroles/edit", orjson.dumps(edit))
    for obj in policy_objects():
        plural = "roles" if obj["kind"] == "Role" else "rolebindings"
        policy.apply(f"/registry/{plural}/{NAMESPACE}/{obj['metadata']['name']}", orjson.dumps(obj))
    policy.apply(
        f"/registry/rolebindings/{NAMESPACE}/bench-edit",
        orjson.dumps(
            {
                "metadata": {"name": "bench-edit", "namespace": NAMESPACE},
                "roleRef": {"kind": "ClusterRole", "name": "edit"},
                "subjects": [{"kind": "Group", "name": GROUP}],
            }
        ),
    )
    authorizer = Authorizer(policy)
    user = User("bench", (GROUP, "system:authenticated"))
    create = Attributes(user, "create", True, NAMESPACE, "", "v1", "pods")
    refused = Attributes(user, "delete", True, NAMESPACE, "", "v1", "nodes")
    assert authorizer.allowed(create) and not authorizer.allowed(refused)
    out = {}
    for label, attrs in (("allowed", create), ("refused", refused)):
        # Worked out from the policy, as after any change to it, and then remembered.
        for how, decide in (("evaluated", authorizer._evaluate), ("remembered", authorizer.decide)):
            began = time.perf_counter()
            for _ in range(repeats):
                decide(attrs)
            out[f"{label}_{how}_us"] = (time.perf_counter() - began) / repeats * 1e6
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--creates", type=int, default=500)
    args = parser.parse_args()
    results = asyncio.run(run(args.rounds, args.creates))
    results["decision"] = decision_cost()
    for concurrency, summary in results["by_concurrency"].items():
        print(f"{concurrency} client(s):")
        for mode in ("AlwaysAllow", "RBAC"):
            row = summary[mode]
            print(
                f"  {mode:<12} {row['per_second']:7.0f} creates/s  p50 {row['p50_ms']:6.2f} ms"
                f"  p99 {row['p99_ms']:6.2f} ms  server CPU {row['server_cpu_us']:6.0f} us/create"
            )
        print(
            f"  RBAC adds {summary['added_p50_percent']:+.1f}% to the median create, "
            f"{summary['added_cpu_percent']:+.1f}% to the server's CPU per create"
        )
    decision = results["decision"]
    print(
        "the decision alone (1,000 Roles and RoleBindings, the defaults): "
        f"{decision['allowed_evaluated_us']:.1f} us to allow the create, "
        f"{decision['refused_evaluated_us']:.1f} us to refuse, worked out from the policy; "
        f"{decision['allowed_remembered_us']:.1f} and {decision['refused_remembered_us']:.1f} us "
        "remembered"
    )
    api_bench.write_results("authz_bench", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
