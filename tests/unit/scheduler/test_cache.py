"""The scheduler cache: nodes in zone order, assumed pods, confirmations and releases."""

from __future__ import annotations

from sched_objects import make_node, make_pod

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.framework.types import PodInfo


def zoned(name: str, zone: str) -> dict:
    return make_node(name, labels={"topology.kubernetes.io/zone": zone})


def test_nodes_of_different_zones_are_interleaved() -> None:
    cache = Cache()
    for name, zone in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c")):
        cache.add_node(zoned(name, zone))
    assert [n.name for n in cache.list()] == ["a1", "b1", "c1", "a2", "a3"]
    cache.remove_node("b1")
    assert [n.name for n in cache.list()] == ["a1", "c1", "a2", "a3"]


def test_an_assumed_pod_counts_on_its_node_at_once() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="500m", memory="1Gi")), "n1")
    info = cache.get("n1")
    assert info is not None
    assert (info.requested.milli_cpu, info.requested.memory) == (500, 1 << 30)
    assert cache.is_assumed("default/p")


def test_a_forgotten_pod_frees_what_it_held() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="500m")), "n1")
    cache.forget_pod("default/p")
    info = cache.get("n1")
    assert info is not None and info.requested.milli_cpu == 0 and not info.pods


def test_the_bound_pod_replaces_the_assumed_one_without_counting_twice() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="500m")), "n1")
    cache.add_pod(make_pod("p", cpu="500m", node="n1"))
    info = cache.get("n1")
    assert info is not None and info.requested.milli_cpu == 500 and len(info.pods) == 1
    assert not cache.is_assumed("default/p")
    cache.forget_pod("default/p")  # confirmed pods are not forgotten
    assert info.requested.milli_cpu == 500


def test_a_removed_node_releases_the_pods_assumed_on_it() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="1")), "n1")
    cache.remove_node("n1")
    assert cache.list() == [] and not cache.is_assumed("default/p")
    assert cache.pod_count() == 0


def test_pods_seen_before_their_node_count_once_it_comes() -> None:
    cache = Cache()
    cache.add_pod(make_pod("p", cpu="1", node="late"))
    cache.add_node(make_node("late"))
    info = cache.get("late")
    assert info is not None and info.requested.milli_cpu == 1000


def test_nodes_with_affinity_pods_are_tracked() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "h"}
            ]
        }
    }
    cache.add_pod(make_pod("a", node="n2", affinity=anti))
    assert [n.name for n in cache.with_pods_with_required_anti_affinity()] == ["n2"]
    assert [n.name for n in cache.with_pods_with_affinity()] == ["n2"]
    cache.remove_pod(make_pod("a", node="n2"))
    assert cache.with_pods_with_required_anti_affinity() == []


def test_a_confirmed_pod_keeps_the_sums_of_its_assumed_copy_only_if_its_containers_match() -> None:
    assumed = PodInfo(make_pod("p", cpu="500m"))
    same = PodInfo(make_pod("p", cpu="500m", node="n1"))
    same.reuse_requests(assumed)
    assert same.requests is assumed.requests
    changed = PodInfo(make_pod("p", cpu="2", node="n1"))
    changed.reuse_requests(assumed)
    assert changed.requests.milli_cpu == 2000


def test_a_removed_node_that_comes_back_holds_nothing_of_its_assumed_pods() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="1")), "n1")
    cache.remove_node("n1")
    info = cache.add_node(make_node("n1"))
    assert info.requested.milli_cpu == 0 and not info.pods


def test_a_pod_added_twice_counts_once() -> None:
    cache = Cache()
    info = cache.add_node(make_node("n1"))
    pod = PodInfo(make_pod("p", cpu="1", node="n1"))
    info.add_pod(pod)
    info.add_pod(pod)
    assert info.requested.milli_cpu == 1000 and len(info.pods) == 1
