"""The DaemonSet controller: one pod of a template on every eligible node.

Kubernetes' `pkg/controller/daemon` (1.33). Handlers put DaemonSet keys on the queue: a
DaemonSet changed; one of its pods was added, changed or deleted (found through the pod's
controller reference, or, for an orphan, every DaemonSet whose selector matches it); one of its
ControllerRevisions changed; a node was added, deleted, or changed in a way that changes where
a DaemonSet's pods belong (labels, taints; not the heartbeats a kubelet sends). `sync`:

1. records the template's revision (daemonset_history.py) and takes its hash;
2. if its earlier creates and deletes have all been seen (expectations), works node by node
   (daemonset_plan.node_actions): a pod for each eligible node without one, failed pods deleted
   with back-off, surplus pods deleted keeping the oldest, pods deleted from nodes that may no
   longer run them, and pods meant for nodes that are gone deleted. New pods are pinned to
   their node by a required node affinity on `metadata.name` and carry the daemon tolerations
   (daemonset_util.py): the scheduler binds them;
3. then, under RollingUpdate, replaces old pods within maxUnavailable and maxSurge
   (daemonset_plan.rolling_update); OnDelete leaves that to whoever deletes them;
4. prunes revisions beyond revisionHistoryLimit;
5. writes `status` through the status subresource: desired, current, misscheduled, ready,
   available, unavailable and updated node counts, and observedGeneration (only once the
   controller has acted on this generation: `kubectl rollout status` waits for it).

Creates and deletes go out in one batch of at most 250 of each per sync, creates in slow-start
batches, each reported as an Event (`SuccessfulCreate` "Created pod: web-x7k2p", ...).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kubelite.api import labels, meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.resources import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConflictError, APIError, APINotFoundError
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.flowcontrol import Backoff
from kubelite.client.informer import by_controller_uid, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers import podutil
from kubelite.controllers.daemonset_history import DaemonSetHistory
from kubelite.controllers.daemonset_plan import (
    node_actions,
    rolling_update,
    status_counts,
    unscheduled_pods_without_node,
)
from kubelite.controllers.daemonset_util import (
    HASH_LABEL,
    DaemonPlacement,
    Placement,
    create_pod_template,
    is_rolling_update,
    pin_to_node,
    target_node_name,
    template_generation,
)
from kubelite.controllers.expectations import Expectations
from kubelite.controllers.owners import recheck_owner, typed
from kubelite.controllers.podcontrol import PodControl, pod_from_template, slow_start_batch

log = logging.getLogger(__name__)


# kube-controller-manager's --concurrent-daemonset-syncs.
WORKERS = 2
# Pods one sync creates, and deletes, at most (BurstReplicas).
BURST_REPLICAS = 250
# The failed pods' delete-and-recreate back-off per node: 1 s doubling to 15 minutes
# (kube-controller-manager's daemon failedPodsBackoff).
FAILED_PODS_BACKOFF_INITIAL = 1.0
FAILED_PODS_BACKOFF_MAX = 15 * 60.0
# How often the failed-pod back-off forgets nodes it has not seen for long (BackoffGCInterval).
BACKOFF_GC_INTERVAL = 60.0

SELECTING_ALL = "SelectingAll"
FAILED_DAEMON_POD = "FailedDaemonPod"
SUCCEEDED_DAEMON_POD = "SucceededDaemonPod"
NAMESPACE_TERMINATING = "NamespaceTerminating"
# The status fields the controller owns, besides observedGeneration and collisionCount.
STATUS_COUNTERS = (
    "desiredNumberScheduled",
    "currentNumberScheduled",
    "numberMisscheduled",
    "numberReady",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
)


def _true_conditions(node: Obj) -> set[str]:
    conditions = (node.get("status") or {}).get("conditions") or ()
    return {c.get("type", "") for c in conditions if c.get("status") == "True"}


def _without_heartbeat(node: Obj) -> Obj:
    md = {k: v for k, v in (node.get("metadata") or {}).items() if k != "resourceVersion"}
    status = {k: v for k, v in (node.get("status") or {}).items() if k != "conditions"}
    return {**node, "metadata": md, "status": status}


def node_update_ignorable(old: Obj, new: Obj) -> bool:
    """shouldIgnoreNodeUpdate: the same conditions hold, and nothing but the conditions'
    times and the resourceVersion changed (a kubelet's heartbeat)."""
    if _true_conditions(old) != _true_conditions(new):
        return False
    return _without_heartbeat(old) == _without_heartbeat(new)


def _is_namespace_terminating(error: APIError) -> bool:
    return any(c.get("reason") == NAMESPACE_TERMINATING for c in error.details.get("causes") or ())


def _selects_everything(ds: Obj) -> bool:
    """An empty selector `{}` (validation refuses it; a DaemonSet would claim every pod)."""
    selector = (ds.get("spec") or {}).get("selector")
    if not isinstance(selector, dict):
        return False
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


@dataclass(frozen=True, slots=True)
class Claim:
    """What one sync's claim found: whose pods, by which selector, and the orphans it adopted."""

    uid: str
    namespace: str
    selector: labels.Selector
    adopted: set[str]


class DaemonSetController:
    """Keeps each DaemonSet's pods on the nodes it should run on (see the module docstring)."""

    resource = DAEMON_SETS
    component = "daemonset-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        burst_replicas: int = BURST_REPLICAS,
        clock: Callable[[], dt.datetime] = meta.now,
        failed_pods_backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.workers = workers
        self.burst_replicas = burst_replicas
        self.clock = clock
        # On the controller's clock, which decides availability too (tests turn it).
        self.failed_pods_backoff = failed_pods_backoff or Backoff(
            lambda: self.clock().timestamp(),
            initial=FAILED_PODS_BACKOFF_INITIAL,
            maximum=FAILED_PODS_BACKOFF_MAX,
        )
        self.queue = WorkQueue("daemonset")
        self.expectations = Expectations()
        self.pod_control = PodControl(client, EventRecorder(client, self.component))
        self.daemon_sets = self.informers.informer(self.resource)
        self.daemon_sets.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.pods.add_indexer("controller", by_controller_uid)
        self.nodes = self.informers.informer(NODES)
        self.revisions = self.informers.informer(CONTROLLER_REVISIONS)
        self.revisions.add_indexer("namespace", by_namespace)
        self.history = DaemonSetHistory(client, self.revisions, self.pod_control, self.resource)
        # DaemonSet key -> (uid, resourceVersion, its compiled placement).
        self._placements: dict[str, tuple[str, str, DaemonPlacement]] = {}
        self.daemon_sets.add_handler(self._on_daemon_set, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)
        self.nodes.add_handler(self._on_node, with_old=True)
        self.revisions.add_handler(self._on_revision, with_old=True)

    # --- lookups --------------------------------------------------------------------------------

    def placement(self, ds: Obj) -> DaemonPlacement:
        """The DaemonSet's compiled placement, kept while the DaemonSet is unchanged."""
        key = key_of(ds)
        md = ds.get("metadata") or {}
        uid, version = md.get("uid", ""), md.get("resourceVersion", "")
        cached = self._placements.get(key)
        if cached is not None and cached[0] == uid and cached[1] == version:
            return cached[2]
        compiled = DaemonPlacement(ds)
        self._placements[key] = (uid, version, compiled)
        return compiled

    def _resolve(self, obj: Obj, ref: Obj | None = None) -> Obj | None:
        """The cached DaemonSet `obj`'s controller reference names, matched by uid."""
        ref = ref if ref is not None else podutil.controller_ref(obj)
        if ref is None or ref.get("kind") != self.resource.kind:
            return None
        ds = self.daemon_sets.get(f"{meta.namespace_of(obj)}/{ref.get('name', '')}")
        if ds is None or ds["metadata"].get("uid") != ref.get("uid"):
            return None
        return ds

    def _selecting(self, obj: Obj) -> list[Obj]:
        """DaemonSets of the object's namespace whose non-empty selector matches it
        (GetPodDaemonSets, GetHistoryDaemonSets)."""
        found = []
        obj_labels = meta.labels_of(obj)
        for ds in self.daemon_sets.by_index("namespace", meta.namespace_of(obj)):
            try:
                selector = labels.from_label_selector((ds.get("spec") or {}).get("selector"))
            except labels.SelectorError:
                continue
            if not selector.empty() and selector.matches(obj_labels):
                found.append(ds)
        return found

    # --- handlers -------------------------------------------------------------------------------

    def _on_daemon_set(self, event_type: str, ds: Obj, old: Obj | None) -> None:
        key = key_of(ds)
        replaced = old is not None and old["metadata"].get("uid") != ds["metadata"].get("uid")
        if event_type == "DELETED" or replaced:
            # A DaemonSet made again under the same name starts clean.
            self.expectations.forget(key)
            self._placements.pop(key, None)
        self.queue.add(key)

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        if (
            event_type == "MODIFIED"
            and old is not None
            and old["metadata"].get("resourceVersion") == pod["metadata"].get("resourceVersion")
        ):
            return
        if event_type == "DELETED" or podutil.is_terminating(pod):
            # Gone or going: make its replacement now, not once the kubelet is done with it.
            ds = self._resolve(pod)
            if ds is not None:
                self.expectations.deletion_observed(key_of(ds), key_of(pod))
                self.queue.add(key_of(ds))
            return
        ref = podutil.controller_ref(pod)
        if event_type == "ADDED":
            if ref is not None:
                ds = self._resolve(pod, ref)
                if ds is not None:
                    self.expectations.creation_observed(key_of(ds))
                    self.queue.add(key_of(ds))
                return
            for ds in self._selecting(pod):  # An orphan: whoever matches may adopt it.
                self.queue.add(key_of(ds))
            return
        old_ref = podutil.controller_ref(old) if old is not None else None
        if old is not None and old_ref is not None and old_ref != ref:
            previous = self._resolve(old, old_ref)
            if previous is not None:
                self.queue.add(key_of(previous))
        if ref is not None:
            ds = self._resolve(pod, ref)
            if ds is None:
                return
            self.queue.add(key_of(ds))
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            became_ready = old is not None and not is_pod_ready(old) and is_pod_ready(pod)
            if became_ready and min_ready > 0:
                # One second more, against clock skew (as Kubernetes waits).
                self.queue.add_after(key_of(ds), min_ready + 1)
            return
        if old is None or meta.labels_of(old) != meta.labels_of(pod) or old_ref != ref:
            for ds in self._selecting(pod):
                self.queue.add(key_of(ds))

    def _on_revision(self, event_type: str, revision: Obj, old: Obj | None) -> None:
        ref = podutil.controller_ref(revision)
        if event_type == "DELETED" or (
            event_type == "ADDED" and revision["metadata"].get("deletionTimestamp")
        ):
            ds = self._resolve(revision)
            if ds is not None:
                self.queue.add(key_of(ds))
            return
        if event_type == "ADDED":
            # Its own new revision needs no sync; an orphan may be adopted.
            if ref is None:
                for ds in self._selecting(revision):
                    self.queue.add(key_of(ds))
            return
        if old is None or old["metadata"].get("resourceVersion") == revision["metadata"].get(
            "resourceVersion"
        ):
            return
        old_ref = podutil.controller_ref(old)
        if old_ref is not None and old_ref != ref:
            previous = self._resolve(old, old_ref)
            if previous is not None:
                self.queue.add(key_of(previous))
        if ref is not None:
            ds = self._resolve(revision, ref)
            if ds is not None:
                self.queue.add(key_of(ds))
            return
        if meta.labels_of(old) != meta.labels_of(revision) or old_ref != ref:
            for ds in self._selecting(revision):
                self.queue.add(key_of(ds))

    def _on_node(self, event_type: str, node: Obj, old: Obj | None) -> None:
        if event_type == "MODIFIED" and old is not None and node_update_ignorable(old, node):
            return
        for ds in self.daemon_sets.list():
            placement = self.placement(ds)
            now = placement.on(node)
            if event_type == "ADDED":
                wanted = now.should_run
            elif event_type == "DELETED":
                # Not in Kubernetes, which waits for its periodic resync: the node's pods and
                # its place in the status go now.
                wanted = now.should_continue
            else:
                wanted = old is None or placement.on(old) != now
            if wanted:
                self.queue.add(key_of(ds))

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(
                self.daemon_sets, self.pods, self.nodes, self.revisions
            )
            await asyncio.gather(
                self._collect_backoff(),
                *(process(self.queue, self.sync, what=self.component) for _ in range(self.workers)),
            )
        finally:
            self.queue.shut_down()

    async def _collect_backoff(self) -> None:
        while True:
            await asyncio.sleep(BACKOFF_GC_INTERVAL)
            self.failed_pods_backoff.gc()

    # --- sync -----------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.daemon_sets.get(key)
        if cached is None:
            self.expectations.forget(key)
            self._placements.pop(key, None)
            return None
        ds = typed(cached, self.resource)
        if _selects_everything(ds):
            self.pod_control.event(
                ds,
                WARNING,
                SELECTING_ALL,
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return None
        try:
            selector = labels.from_label_selector((ds.get("spec") or {}).get("selector"))
        except labels.SelectorError as e:
            log.warning("DaemonSet %s: invalid selector: %s", key, e)
            return None  # Not transient: nothing to retry.
        if ds["metadata"].get("deletionTimestamp"):
            # Its revisions may be gone or orphaned already: no status can be trusted now.
            return None
        claim = await self._claim_pods(ds, selector)

        async def claimed_pods() -> list[Obj]:
            return self._daemon_pods(claim)

        cur, old = await self.history.construct(
            ds, selector, lambda: self._can_adopt(ds), claimed_pods
        )
        hash_ = meta.labels_of(cur).get(HASH_LABEL, "")
        placement = self.placement(ds)
        placements = {meta.name_of(n): placement.on(n) for n in self.nodes.list()}
        if not self.expectations.satisfied(key):
            # Status only, without observedGeneration: this generation was not acted on.
            return await self._update_status(ds, claim, placements, hash_, observed=False)
        failure: APIError | None = None
        again: float | None = None
        try:
            again = await self._update(ds, key, claim, placements, hash_, old)
        except APIError as e:
            failure = e
        try:
            ready_again = await self._update_status(ds, claim, placements, hash_, observed=True)
        except APIError as e:
            if failure is None:
                raise
            log.warning("DaemonSet %s: status not written: %s", key, e)
            ready_again = None
        if failure is not None:
            raise failure
        waits = [w for w in (again, ready_again) if w is not None]
        return min(waits) if waits else None

    async def _can_adopt(self, ds: Obj) -> bool:
        return await recheck_owner(self.client, self.resource, ds)

    async def _claim_pods(self, ds: Obj, selector: labels.Selector) -> Claim:
        """getDaemonPods, once a sync: adopt the namespace's orphans the selector matches and
        release its own pods that no longer match (finished pods too)."""
        uid = ds["metadata"]["uid"]
        candidates = list(self.pods.by_index("controller", uid))
        orphans = [
            p
            for p in self.pods.by_index("namespace", meta.namespace_of(ds))
            if podutil.controller_ref(p) is None
        ]
        claimed = await self.pod_control.claim(
            ds, selector, candidates + orphans, lambda: self._can_adopt(ds)
        )
        orphan_uids = {p["metadata"].get("uid") for p in orphans}
        adopted = {p["metadata"].get("uid", "") for p in claimed} & orphan_uids
        return Claim(uid, meta.namespace_of(ds), selector, adopted)

    def _daemon_pods(self, claim: Claim) -> list[Obj]:
        """The pods the sync's claim gave the DaemonSet, as the cache has them now: those it
        controls that its selector matches, and the orphans it adopted whose adoption the
        cache has not seen yet. Kubernetes claims afresh at each step; reading the claim back
        from the cache sees the same pods without patching an orphan once per step."""
        found = [
            p
            for p in self.pods.by_index("controller", claim.uid)
            if claim.selector.matches(meta.labels_of(p))
        ]
        if claim.adopted:
            found += [
                p
                for p in self.pods.by_index("namespace", claim.namespace)
                if podutil.controller_ref(p) is None and p["metadata"].get("uid") in claim.adopted
            ]
        return found

    def _nodes_to_pods(
        self, claim: Claim, *, deleted_terminal: bool = False
    ) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: its pods by the node they are on or meant for. A finished pod
        being deleted is left out unless asked for: nothing remains to be done with it."""
        by_node: dict[str, list[Obj]] = {}
        for pod in self._daemon_pods(claim):
            finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if finished and not deleted_terminal and podutil.is_terminating(pod):
                continue
            node_name = target_node_name(pod)
            if node_name is None:
                continue
            by_node.setdefault(node_name, []).append(pod)
        return by_node

    async def _update(
        self,
        ds: Obj,
        key: str,
        claim: Claim,
        placements: dict[str, Placement],
        hash_: str,
        old: list[Obj],
    ) -> float | None:
        """updateDaemonSet: manage, then roll, then prune history; the delay after which the
        failed-pod back-off wants another look, if any."""
        again = await self._manage(ds, key, claim, placements, hash_)
        if self.expectations.satisfied(key) and is_rolling_update(ds):
            node_to_pods = self._nodes_to_pods(claim)
            try:
                doomed, nodes = rolling_update(ds, placements, node_to_pods, hash_, self.clock())
            except ValueError as e:
                log.warning("DaemonSet %s: invalid rolling update: %s", key, e)
            else:
                await self._sync_nodes(ds, key, doomed, nodes, hash_)
        every_pod = self._nodes_to_pods(claim, deleted_terminal=True)
        await self.history.cleanup(ds, old, [p for pods in every_pod.values() for p in pods])
        return again

    async def _manage(
        self,
        ds: Obj,
        key: str,
        claim: Claim,
        placements: dict[str, Placement],
        hash_: str,
    ) -> float | None:
        """manage: pods made and deleted node by node."""
        node_to_pods = self._nodes_to_pods(claim)
        now = self.clock()
        to_create: list[str] = []
        to_delete: list[Obj] = []
        waits: list[float] = []
        for node_name, placement in sorted(placements.items()):
            actions = node_actions(ds, placement, node_to_pods.get(node_name), hash_, now)
            if actions.create:
                to_create.append(node_name)
            for pod in actions.failed:
                wait = self._failed_pod_backoff(ds, node_name)
                if wait is not None:
                    waits.append(wait)
                    continue
                self.pod_control.event(
                    ds,
                    WARNING,
                    FAILED_DAEMON_POD,
                    f"Found failed daemon pod {key_of(pod)} on node {node_name}, will try to "
                    "kill it",
                )
                to_delete.append(pod)
            for pod in actions.succeeded:
                self.pod_control.event(
                    ds,
                    NORMAL,
                    SUCCEEDED_DAEMON_POD,
                    f"Found succeeded daemon pod {key_of(pod)} on node {node_name}, will try "
                    "to delete it",
                )
                to_delete.append(pod)
            to_delete += actions.delete
        to_delete += unscheduled_pods_without_node(set(placements), node_to_pods)
        await self._sync_nodes(ds, key, to_delete, to_create, hash_)
        return min(waits) if waits else None

    def _failed_pod_backoff(self, ds: Obj, node_name: str) -> float | None:
        """None when a failed pod on the node may be deleted now (the back-off steps up);
        else how long to wait. Keyed by generation too, so a fixed template retries at once."""
        observed = (ds.get("status") or {}).get("observedGeneration") or 0
        backoff_key = f"{ds['metadata']['uid']}/{observed}/{node_name}"
        if self.failed_pods_backoff.in_backoff(backoff_key):
            return self.failed_pods_backoff.get(backoff_key)
        self.failed_pods_backoff.next(backoff_key)
        return None

    async def _sync_nodes(
        self, ds: Obj, key: str, to_delete: list[Obj], to_create: list[str], hash_: str
    ) -> None:
        """syncNodes: delete `to_delete` and make a pod on each node of `to_create`, at most
        burst_replicas of each, expecting to see every one; raises the first refusal."""
        create_count = min(len(to_create), self.burst_replicas)
        doomed = to_delete[: self.burst_replicas]
        self.expectations.expect(key, create_count, [key_of(p) for p in doomed])
        spec = ds.get("spec") or {}
        template = create_pod_template(spec.get("template") or {}, template_generation(ds), hash_)
        nodes = iter(to_create[:create_count])
        generate_name = f"{meta.name_of(ds)}-"

        async def create_one() -> None:
            pod = pod_from_template(template, ds, generate_name=generate_name)
            pin_to_node(pod["spec"], next(nodes))
            try:
                await self.pod_control.create(ds, pod)
            except APIError as e:
                if not _is_namespace_terminating(e):
                    raise
                # Every create would be refused the same way; nothing to retry.
                self.expectations.creations_failed(key, 1)

        created, failure = await slow_start_batch(create_count, create_one)
        if created < create_count:
            # Refused, or never sent after a refused batch: none of them will be seen.
            self.expectations.creations_failed(key, create_count - created)
        if failure is not None and not isinstance(failure, APIError):
            raise failure
        results = await asyncio.gather(
            *(self.pod_control.delete(ds, p) for p in doomed), return_exceptions=True
        )
        for pod, result in zip(doomed, results, strict=True):
            if isinstance(result, BaseException):
                self.expectations.deletion_failed(key, key_of(pod))
                if not isinstance(result, APIError):
                    raise result
                failure = failure or result
            elif result is False:
                self.expectations.deletion_observed(key, key_of(pod))  # Gone already.
        if failure is not None:
            raise failure

    # --- status ---------------------------------------------------------------------------------

    async def _update_status(
        self,
        ds: Obj,
        claim: Claim,
        placements: dict[str, Placement],
        hash_: str,
        *,
        observed: bool,
    ) -> float | None:
        """updateDaemonSetStatus; with minReadySeconds, the delay after which pods ready now
        may count as available."""
        node_to_pods = self._nodes_to_pods(claim)
        counts = status_counts(ds, placements, node_to_pods, hash_, self.clock())
        await self._store_status(ds, counts, observed)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and counts["numberReady"] != counts["numberAvailable"]:
            return float(min_ready)
        return None

    async def _store_status(self, ds: Obj, counts: dict[str, int], observed: bool) -> None:
        """storeDaemonSetStatus: PUT the status if it changed; on a conflict once more, onto
        the fresh object."""
        previous = ds.get("status") or {}
        generation = int(ds["metadata"].get("generation") or 0)
        if (
            all(int(previous.get(f) or 0) == v for f, v in counts.items())
            and int(previous.get("observedGeneration") or 0) >= generation
        ):
            return
        body = ds
        for attempt in range(2):
            status = {**(body.get("status") or {}), **counts}
            if observed:
                status["observedGeneration"] = generation
            try:
                await self.client.update(
                    self.resource,
                    {**body, "status": status},
                    namespace=meta.namespace_of(ds),
                    subresource="status",
                )
                return
            except APINotFoundError:
                return
            except APIConflictError:
                if attempt:
                    raise
                fresh = await self.client.get(
                    self.resource, meta.name_of(ds), namespace=meta.namespace_of(ds)
                )
                body = typed(fresh, self.resource)
