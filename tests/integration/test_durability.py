"""Acknowledged writes survive `kill -9`, and compaction turns old revisions into 410s, on
both stores whatever the run's `--store` (on etcd, etcd is killed with the server)."""

from __future__ import annotations

import threading
import time

import pytest
from cluster import STORES, Cluster
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

# Both stores by parameter: the same in both passes of scripts/test.sh.
pytestmark = pytest.mark.own_store


@pytest.mark.parametrize("store", STORES)
def test_every_acknowledged_create_survives_sigkill(fresh_cluster: Cluster, store: str):
    fresh_cluster.store = store
    fresh_cluster.start()
    core = client.CoreV1Api(fresh_cluster.client())
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def creator(worker: int) -> None:
        api = client.CoreV1Api(fresh_cluster.client())
        i = 0
        while not stop.is_set():
            name = f"burst-{worker}-{i}"
            body = {"metadata": {"name": name}, "data": {"n": str(i)}}
            try:
                api.create_namespaced_config_map("default", body, _request_timeout=5)
            except Exception:  # the server is gone: this write was never acknowledged
                return
            with lock:
                acknowledged.append(name)
            i += 1

    threads = [threading.Thread(target=creator, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 300:
                break
        time.sleep(0.01)
    fresh_cluster.kill()
    if fresh_cluster.etcd is not None:
        fresh_cluster.etcd.kill()
    stop.set()
    for t in threads:
        t.join()
    with lock:
        expected = set(acknowledged)
    assert len(expected) >= 300

    fresh_cluster.start()
    core = client.CoreV1Api(fresh_cluster.client())
    stored = {cm.metadata.name for cm in core.list_namespaced_config_map("default").items}
    assert expected <= stored


@pytest.mark.parametrize("store", STORES)
def test_watching_from_a_compacted_revision_is_gone(fresh_cluster: Cluster, store: str):
    fresh_cluster.store = store
    fresh_cluster.extra_args = ["--compaction-interval", "0.5"]
    fresh_cluster.start()
    core = client.CoreV1Api(fresh_cluster.client())
    old = core.list_namespaced_config_map("default").metadata.resource_version
    for i in range(3):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    # Two compaction intervals: the revision of the first tick is compacted at the second.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=old,
                timeout_seconds=1,
            ):
                pass
        except ApiException as err:
            assert err.status == 410
            break
        time.sleep(0.2)
    else:
        pytest.fail("the old revision was never compacted")
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(
            "default", resource_version=old, resource_version_match="Exact"
        )
    assert err.value.status == 410
