"""`kubelite hollow-nodes` against a real server, seen through the real kubectl.

Each test runs its own hollow-nodes process with a name prefix of its own, so that tests sharing
the module's server never look at each other's nodes. Pods name a scheduler that does not exist,
so that only the test binds them (through pods/<name>/binding, as a scheduler would). Leases
last 8 s here, renewed every 2 s, so that renewals are seen without long waits.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from cluster import Cluster

Obj = dict[str, Any]
T = TypeVar("T")

WAIT = 30.0
LEASE_SECONDS = "8"


class Hollow:
    """A running `kubelite hollow-nodes`, its output read on a thread so it never blocks."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.output.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} from hollow-nodes:\n{''.join(self.output)}")

    def stop(self) -> int:
        """SIGTERM, and the exit code once it has exited cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(WAIT)


@contextlib.contextmanager
def hollow_nodes(cluster: Cluster, *args: str) -> Iterator[Hollow]:
    command = [sys.executable, "-m", "kubelite", "hollow-nodes", *args]
    command += ["--kubeconfig", str(cluster.kubeconfig)]
    command += ["--lease-duration-seconds", LEASE_SECONDS]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cluster.env(),
    )
    hollow = Hollow(process)
    try:
        hollow.wait_for_line("hollow nodes registered")
        yield hollow
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll `check` until it returns something true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def get_json(cluster: Cluster, *args: str) -> Obj:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def unscheduled_pod(name: str, containers: int = 1) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                # No scheduler by this name: the pod waits for the test to bind it.
                "schedulerName": "hollow-test-binder",
                "containers": [
                    {"name": f"c{i}", "image": "registry.local/app:1"} for i in range(containers)
                ],
            },
        }
    )


def bind(cluster: Cluster, namespace: str, pod: str, node: str) -> None:
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    status, body, _ = cluster.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/{pod}/binding", binding
    )
    assert status == 201, body


def lease_versions(cluster: Cluster, prefix: str) -> dict[str, tuple[str, str]]:
    leases = get_json(cluster, "leases", "-n", "kube-node-lease")["items"]
    return {
        lease["metadata"]["name"]: (
            lease["metadata"]["resourceVersion"],
            lease["spec"]["renewTime"],
        )
        for lease in leases
        if lease["metadata"]["name"].startswith(prefix)
    }


def test_three_hollow_nodes_run_a_pod_to_running_and_let_it_go(
    cluster: Cluster, namespace: str
) -> None:
    with hollow_nodes(cluster, "--count", "3", "--name-prefix", "hn-a-") as hollow:
        out = cluster.kubectl("get", "nodes", "-l", "kubelite.io/hollow=true").stdout
        rows = [line.split() for line in out.splitlines()[1:] if line.startswith("hn-a-")]
        assert sorted(row[0] for row in rows) == ["hn-a-0", "hn-a-1", "hn-a-2"]
        assert all(row[1] == "Ready" for row in rows), out
        cluster.kubectl(
            "wait", "--for=condition=Ready", "node/hn-a-0", "node/hn-a-1", "node/hn-a-2"
        )

        node = get_json(cluster, "node", "hn-a-1")
        assert node["metadata"]["labels"]["kubelite.io/hollow"] == "true"
        assert "kubelite.io/hollow" in node["metadata"]["annotations"]
        assert not node["spec"].get("taints")
        assert node["status"]["allocatable"]["cpu"] == "32"

        cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=unscheduled_pod("web"))
        bind(cluster, namespace, "web", "hn-a-1")
        cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/web")
        row = cluster.kubectl("get", "pod", "web", "-n", namespace, "-o", "wide").stdout
        fields = row.splitlines()[1].split()
        assert fields[1:3] == ["1/1", "Running"], row
        assert fields[5].startswith("100.64.") and fields[6] == "hn-a-1", row

        pod = get_json(cluster, "pod", "web", "-n", namespace)
        assert pod["status"]["hostIP"] == node["status"]["addresses"][0]["address"]
        (container,) = pod["status"]["containerStatuses"]
        assert container["ready"] and container["started"]
        assert "running" in container["state"]

        cluster.kubectl("delete", "pod", "web", "-n", namespace, "--timeout=30s")
        gone = cluster.kubectl("get", "pod", "web", "-n", namespace, check=False)
        assert 'pods "web" not found' in gone.stderr

        assert hollow.stop() == 0


def test_leases_are_renewed_every_quarter_of_their_duration(cluster: Cluster) -> None:
    with hollow_nodes(cluster, "--count", "2", "--name-prefix", "hn-b-"):
        first = wait_until(lambda: lease_versions(cluster, "hn-b-"), "the leases")
        assert sorted(first) == ["hn-b-0", "hn-b-1"]
        lease = get_json(cluster, "lease", "hn-b-0", "-n", "kube-node-lease")
        assert lease["spec"]["holderIdentity"] == "hn-b-0"
        assert lease["spec"]["leaseDurationSeconds"] == int(LEASE_SECONDS)
        owner = lease["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("Node", "hn-b-0")

        def renewed_twice() -> bool:
            now = lease_versions(cluster, "hn-b-")
            return all(now[name][1] > first[name][1] for name in first)

        # Renewals every 2 s: both leases are renewed well within one lease duration.
        wait_until(renewed_twice, "renewed leases", timeout=float(LEASE_SECONDS))


def test_a_restarted_process_keeps_its_nodes_and_picks_up_bound_pods(
    cluster: Cluster, namespace: str
) -> None:
    with hollow_nodes(cluster, "--count", "2", "--name-prefix", "hn-c-"):
        uid = get_json(cluster, "node", "hn-c-0")["metadata"]["uid"]
        cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=unscheduled_pod("early"))
        bind(cluster, namespace, "early", "hn-c-0")
        cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/early")
        early_ip = get_json(cluster, "pod", "early", "-n", namespace)["status"]["podIP"]

    # While no hollow kubelet runs, a pod is bound to one of its nodes.
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=unscheduled_pod("late", 2))
    bind(cluster, namespace, "late", "hn-c-0")
    assert get_json(cluster, "pod", "late", "-n", namespace)["status"]["phase"] == "Pending"

    with hollow_nodes(cluster, "--count", "2", "--name-prefix", "hn-c-"):
        assert get_json(cluster, "node", "hn-c-0")["metadata"]["uid"] == uid
        cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/late")
        late = get_json(cluster, "pod", "late", "-n", namespace)
        assert late["status"]["podIP"] != early_ip  # the earlier pod's address stays its own
        assert get_json(cluster, "pod", "early", "-n", namespace)["status"]["podIP"] == early_ip
        for name in ("early", "late"):
            cluster.kubectl("delete", "pod", name, "-n", namespace, "--timeout=30s")


def test_delete_on_exit_removes_the_nodes_and_their_leases(cluster: Cluster) -> None:
    with hollow_nodes(
        cluster, "--count", "2", "--name-prefix", "hn-d-", "--delete-on-exit"
    ) as hollow:
        assert len(get_json(cluster, "nodes", "-l", "kubelite.io/hollow=true")["items"]) >= 2
        assert hollow.stop() == 0
    names = [n["metadata"]["name"] for n in get_json(cluster, "nodes")["items"]]
    assert not [n for n in names if n.startswith("hn-d-")]
    assert not lease_versions(cluster, "hn-d-")


def test_bad_flags_are_refused_before_anything_is_registered(cluster: Cluster) -> None:
    result = cluster.kubelite("hollow-nodes", "--count", "0", check=False)
    assert result.returncode == 2
    assert "--count must be given" in result.stderr
    result = cluster.kubelite("hollow-nodes", "--count", "1", "--cpu", "lots", check=False)
    assert result.returncode == 2
    assert "--cpu 'lots'" in result.stderr


def test_a_real_node_of_the_same_name_is_never_taken_over(cluster: Cluster) -> None:
    real = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "hn-e-0", "labels": {"kubernetes.io/hostname": "hn-e-0"}},
    }
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(real))
    result = cluster.kubelite(
        "hollow-nodes", "--count", "1", "--name-prefix", "hn-e-", check=False, timeout=WAIT
    )
    assert result.returncode == 1
    assert 'node "hn-e-0" exists and is not a hollow node' in result.stderr
    node = get_json(cluster, "node", "hn-e-0")
    assert "kubelite.io/hollow" not in node["metadata"]["labels"]
