"""The Deployment controller: rolls a pod template out through ReplicaSets.

Kubernetes' `pkg/controller/deployment`. A Deployment owns one ReplicaSet per pod template it
has had, named `<deployment>-<pod-template-hash>`; the one whose template is the current one is
the new ReplicaSet, the others are old. Each sync, level-triggered from the caches:

- claims its ReplicaSets (adopts matching orphans, releases those that stopped matching);
- paused: only scales (proportionally, if mid-rollout) and records `DeploymentPaused`;
- a change of spec.replicas with several active ReplicaSets: proportional scaling;
- RollingUpdate: grows the new ReplicaSet while the total stays within replicas + maxSurge,
  shrinks old ones while at least replicas - maxUnavailable pods stay available, unhealthy
  old pods first; Recreate: old ReplicaSets to zero, wait for their pods to go, then the new
  one to full size;
- once complete, deletes old ReplicaSets beyond `revisionHistoryLimit`;
- writes the status (replica counts, `Available`, `Progressing` with its reasons and the
  progress deadline, `ReplicaFailure` carried over from the ReplicaSets), and the revision
  annotation (through /status, as Kubernetes does).

`kubectl rollout undo` needs nothing here: kubectl copies an old ReplicaSet's template into the
Deployment, which makes that ReplicaSet the new one again, with the next revision.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from kubelite.api import labels, meta
from kubelite.api.conditions import transition_time
from kubelite.api.resources import DEPLOYMENTS, PODS, REPLICA_SETS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIError,
    APINotFoundError,
)
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.informer import by_controller_uid, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers import deployment_util as du
from kubelite.controllers import podutil
from kubelite.controllers.owners import recheck_owner, typed
from kubelite.controllers.podcontrol import PodControl, owner_reference

log = logging.getLogger(__name__)


COMPONENT = "deployment-controller"
WORKERS = 5


class DeploymentController:
    """Rolls Deployments out: one ReplicaSet per pod template, scaled up and down by the strategy,
    with the Deployment's status and revision history kept."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.workers = workers
        self.queue = WorkQueue("deployment")
        self.control = PodControl(client, EventRecorder(client, COMPONENT))
        self.deployments = self.informers.informer(DEPLOYMENTS)
        self.deployments.add_indexer("namespace", by_namespace)
        self.replica_sets = self.informers.informer(REPLICA_SETS)
        self.replica_sets.add_indexer("namespace", by_namespace)
        self.replica_sets.add_indexer("controller", by_controller_uid)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("controller", by_controller_uid)
        self.deployments.add_handler(self._on_deployment)
        self.replica_sets.add_handler(self._on_replica_set, with_old=True)
        self.pods.add_handler(self._on_pod)

    # --- handlers -------------------------------------------------------------------------------

    def _on_deployment(self, event_type: str, d: Obj) -> None:
        self.queue.add(key_of(d))

    def _owner_of(self, rs: Obj) -> Obj | None:
        ref = podutil.controller_ref(rs)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(f"{meta.namespace_of(rs)}/{ref.get('name', '')}")
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _on_replica_set(self, event_type: str, rs: Obj, old: Obj | None) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.queue.add(key_of(owner))
        if old is not None and old is not rs:
            previous = self._owner_of(old)
            if previous is not None and previous is not owner:
                self.queue.add(key_of(previous))
        if owner is None and podutil.controller_ref(rs) is None and event_type != "DELETED":
            # An orphan: a Deployment whose selector matches may adopt it.
            rs_labels = meta.labels_of(rs)
            for d in self.deployments.by_index("namespace", meta.namespace_of(rs)):
                try:
                    if self._selector(d).matches(rs_labels):
                        self.queue.add(key_of(d))
                except labels.SelectorError:
                    continue

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        # Recreate waits for the old pods to be gone; a pod's deletion may end that wait.
        if event_type != "DELETED":
            return
        ref = podutil.controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replica_sets.get(f"{meta.namespace_of(pod)}/{ref.get('name', '')}")
        owner = self._owner_of(rs) if rs is not None else None
        if owner is not None and not du.is_rolling_update(owner):
            self.queue.add(key_of(owner))

    @staticmethod
    def _selector(d: Obj) -> labels.Selector:
        selector = (d.get("spec") or {}).get("selector")
        if not selector:
            return labels.nothing()
        return labels.from_label_selector(selector)

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(self.deployments, self.replica_sets, self.pods)
            await asyncio.gather(
                *(process(self.queue, self.sync, what=COMPONENT) for _ in range(self.workers))
            )
        finally:
            self.queue.shut_down()

    # --- sync -----------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None
        d = typed(meta.clone(cached), DEPLOYMENTS)
        try:
            selector = self._selector(d)
        except labels.SelectorError as e:
            self.control.event(d, WARNING, "InvalidSelector", str(e))
            return None
        namespace = meta.namespace_of(d)
        candidates = [
            typed(rs, REPLICA_SETS) for rs in self.replica_sets.by_index("namespace", namespace)
        ]
        rss = await self.control.claim(
            d, selector, candidates, lambda: self._can_adopt(d), REPLICA_SETS
        )
        rss = [typed(meta.clone(rs), REPLICA_SETS) for rs in rss]
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = await self._new_and_old(d, rss, create=False)
            await self._write_status(
                d, du.calculate_status([*old_rss, new_rs], new_rs, d, meta.now())
            )
            return None
        await self._check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            return await self._sync_scale_only(d, rss)
        if self._is_scaling_event(d, rss):
            return await self._sync_scale_only(d, rss)
        if du.is_rolling_update(d):
            return await self._rollout_rolling(d, rss)
        return await self._rollout_recreate(d, rss)

    async def _can_adopt(self, d: Obj) -> bool:
        return await recheck_owner(self.client, DEPLOYMENTS, d)

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        """An active ReplicaSet sized for another spec.replicas (isScalingEvent)."""
        new_rs = du.find_new(d, rss)
        old = [rs for rs in rss if rs is not new_rs]
        for rs in du.active([new_rs, *old]):
            desired = (rs["metadata"].get("annotations") or {}).get(du.DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired != str(du.replicas(d)):
                return True
        return False

    # --- the new ReplicaSet --------------------------------------------------------------------

    async def _new_and_old(
        self, d: Obj, rss: list[Obj], *, create: bool
    ) -> tuple[Obj | None, list[Obj]]:
        """The new ReplicaSet (made if `create` and missing) and the old ones, with the
        revision annotations brought up to date (getAllReplicaSetsAndSyncRevision)."""
        existing = du.find_new(d, rss)
        old_rss = [rs for rs in rss if rs is not existing]
        new_revision = du.max_revision(old_rss) + 1
        if existing is not None:
            return await self._update_existing_new(d, existing, new_revision), old_rss
        if not create:
            return None, old_rss
        return await self._create_new(d, old_rss, new_revision), old_rss

    async def _update_existing_new(self, d: Obj, rs: Obj, new_revision: int) -> Obj:
        changed = du.set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
        if ((rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            changed = True
        if changed:
            rs = typed(
                await self.client.update(REPLICA_SETS, rs, namespace=meta.namespace_of(rs)),
                REPLICA_SETS,
            )
        status = d.setdefault("status", {})
        needs_update = self._set_revision(d, rs)
        if du.progress_deadline(d) is not None and du.condition(status, du.PROGRESSING) is None:
            message = f'Found new replica set "{meta.name_of(rs)}"'
            du.set_condition(
                status,
                du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, message, meta.now()),
            )
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return rs

    @staticmethod
    def _set_revision(d: Obj, rs: Obj) -> bool:
        """Copy the new ReplicaSet's revision onto the Deployment; whether it changed."""
        wanted = (rs["metadata"].get("annotations") or {}).get(du.REVISION_ANNOTATION)
        annotations = d["metadata"].setdefault("annotations", {})
        if wanted is None or annotations.get(du.REVISION_ANNOTATION) == wanted:
            return False
        annotations[du.REVISION_ANNOTATION] = wanted
        return True

    async def _create_new(self, d: Obj, old_rss: list[Obj], new_revision: int) -> Obj | None:
        spec = d.get("spec") or {}
        status = d.setdefault("status", {})
        collisions = status.get("collisionCount")
        template = meta.clone(spec.get("template") or {})
        pod_hash = du.pod_template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.POD_TEMPLATE_HASH_LABEL] = (
            pod_hash
        )
        selector = meta.clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.POD_TEMPLATE_HASH_LABEL] = pod_hash
        name = f"{meta.name_of(d)}-{pod_hash}"
        rs: Obj = {
            "apiVersion": REPLICA_SETS.api_version,
            "kind": REPLICA_SETS.kind,
            "metadata": {
                "name": name,
                "namespace": meta.namespace_of(d),
                "ownerReferences": [owner_reference(d)],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds") or 0,
                "selector": selector,
                "template": template,
            },
        }
        rs["spec"]["replicas"] = du.new_rs_replicas(d, [*old_rss, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = typed(
                await self.client.create(REPLICA_SETS, rs, namespace=meta.namespace_of(d)),
                REPLICA_SETS,
            )
        except APIAlreadyExistsError as e:
            return await self._name_taken(d, rs, e)
        except APIError as e:
            message = f'Failed to create new replica set "{name}": {e}'
            self.control.event(d, WARNING, du.RS_CREATE_ERROR, message)
            if du.progress_deadline(d) is not None:
                du.set_condition(
                    status,
                    du.new_condition(
                        du.PROGRESSING, "False", du.RS_CREATE_ERROR, message, meta.now()
                    ),
                )
                await self._update_status(d)
            raise
        replicas = du.rs_replicas(created)
        if replicas > 0:
            self.control.event(
                d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}"
            )
        self._set_revision(d, created)
        if du.progress_deadline(d) is not None:
            du.set_condition(
                status,
                du.new_condition(
                    du.PROGRESSING,
                    "True",
                    du.NEW_RS_CREATED,
                    f'Created new replica set "{name}"',
                    meta.now(),
                ),
            )
        await self._update_status(d)
        return created

    async def _name_taken(self, d: Obj, rs: Obj, error: APIAlreadyExistsError) -> Obj | None:
        """A ReplicaSet of the name exists: ours with this template (a cache behind), or a
        hash collision, which bumps collisionCount so that the next sync picks another name."""
        try:
            found = await self.client.get(
                REPLICA_SETS, meta.name_of(rs), namespace=meta.namespace_of(rs)
            )
        except APINotFoundError:
            return None
        ref = podutil.controller_ref(found)
        ours = ref is not None and ref.get("uid") == d["metadata"]["uid"]
        same = du.equal_ignoring_hash(
            (found.get("spec") or {}).get("template") or {}, d["spec"]["template"]
        )
        if ours and same:
            return typed(found, REPLICA_SETS)
        status = d.setdefault("status", {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self._update_status(d)
        raise error  # Retried with back-off, under the next name.

    # --- scaling --------------------------------------------------------------------------------

    async def _scale_rs(self, d: Obj, rs: Obj, size: int) -> Obj:
        """Set a ReplicaSet's size and its desired/max annotations; an Event if it resized."""
        old_size = du.rs_replicas(rs)
        if old_size == size and not du.replicas_annotations_differ(d, rs):
            return rs
        body = du.with_replicas_annotations(d, rs)
        body = {**body, "spec": {**body["spec"], "replicas": size}}
        updated = typed(
            await self.client.update(REPLICA_SETS, body, namespace=meta.namespace_of(rs)),
            REPLICA_SETS,
        )
        if old_size != size:
            direction = "up" if size > old_size else "down"
            self.control.event(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {meta.name_of(rs)} from {old_size} to {size}",
            )
        return updated

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Bring the ReplicaSets to spec.replicas, proportionally if several have pods."""
        want = du.replicas(d)
        only = du.find_active_or_latest(new_rs, old_rss)
        if only is not None:
            if du.rs_replicas(only) != want or du.replicas_annotations_differ(d, only):
                await self._scale_rs(d, only, want)
            return
        if du.is_saturated(d, new_rs):
            for rs in du.active(old_rss):
                await self._scale_rs(d, rs, 0)
            return
        if not du.is_rolling_update(d):
            return
        rss = du.active([*old_rss, new_rs])
        sizes = du.proportional_sizes(d, rss)
        for rs in rss:
            await self._scale_rs(d, rs, sizes[meta.name_of(rs)])

    async def _sync_scale_only(self, d: Obj, rss: list[Obj]) -> float | None:
        """Paused, or spec.replicas changed: scale, and write the status (sync)."""
        new_rs, old_rss = await self._new_and_old(d, rss, create=False)
        await self._scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old_rss)
        await self._write_status(d, du.calculate_status([*old_rss, new_rs], new_rs, d, meta.now()))
        return None

    async def _check_paused_conditions(self, d: Obj) -> None:
        if du.progress_deadline(d) is None:
            return
        status = d.setdefault("status", {})
        cond = du.condition(status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_recorded = cond is not None and cond.get("reason") == du.PAUSED
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_recorded:
            new = du.new_condition(
                du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", meta.now()
            )
        elif not paused and paused_recorded:
            new = du.new_condition(
                du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed", meta.now()
            )
        else:
            return
        du.set_condition(status, new)
        await self._update_status(d)

    # --- rollouts -------------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> float | None:
        new_rs, old_rss = await self._new_and_old(d, rss, create=True)
        if new_rs is None:
            return None
        if await self._reconcile_new(d, new_rs, old_rss):
            return await self._sync_rollout_status(d, new_rs, old_rss)
        if await self._reconcile_old(d, new_rs, old_rss):
            return await self._sync_rollout_status(d, new_rs, old_rss)
        status = du.calculate_status([*old_rss, new_rs], new_rs, d, meta.now())
        if du.complete(d, status):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, new_rs, old_rss)

    async def _reconcile_new(self, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> bool:
        want = du.replicas(d)
        size = du.rs_replicas(new_rs)
        if size == want:
            return False
        target = want if size > want else du.new_rs_replicas(d, [*old_rss, new_rs], new_rs)
        if target == size:
            return False
        self._replace(new_rs, await self._scale_rs(d, new_rs, target))
        return True

    @staticmethod
    def _replace(old: Obj, new: Obj) -> None:
        """Keep working with the ReplicaSet as the API returned it (in place)."""
        old.clear()
        old.update(new)

    async def _reconcile_old(self, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> bool:
        """Scale old ReplicaSets down as far as availability allows (reconcileOldReplicaSets)."""
        if du.total_replicas(old_rss) == 0:
            return False
        all_rss = [*old_rss, new_rs]
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.rs_replicas(new_rs) - du.rs_status(new_rs, "availableReplicas")
        budget = du.total_replicas(all_rss) - min_available - new_unavailable
        if budget <= 0:
            return False
        scaled = 0
        # Unhealthy old pods first: removing them costs no availability.
        for rs in sorted(du.active(old_rss), key=du.created_at):
            if scaled >= budget:
                break
            size = du.rs_replicas(rs)
            unhealthy = size - du.rs_status(rs, "availableReplicas")
            if unhealthy <= 0:
                continue
            count = min(budget - scaled, unhealthy)
            self._replace(rs, await self._scale_rs(d, rs, size - count))
            scaled += count
        # Then healthy ones, oldest first, while availability stays above the minimum.
        available = du.total_status([*old_rss, new_rs], "availableReplicas")
        if available > min_available:
            to_remove = available - min_available
            removed = 0
            for rs in sorted(du.active(old_rss), key=du.created_at):
                if removed >= to_remove:
                    break
                size = du.rs_replicas(rs)
                count = min(size, to_remove - removed)
                self._replace(rs, await self._scale_rs(d, rs, size - count))
                removed += count
            scaled += removed
        return scaled > 0

    async def _rollout_recreate(self, d: Obj, rss: list[Obj]) -> float | None:
        new_rs, old_rss = await self._new_and_old(d, rss, create=False)
        scaled = False
        for rs in du.active(old_rss):
            self._replace(rs, await self._scale_rs(d, rs, 0))
            scaled = True
        if scaled:
            return await self._sync_rollout_status(d, new_rs, old_rss)
        if self._old_pods_running(new_rs, old_rss):
            return await self._sync_rollout_status(d, new_rs, old_rss)
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rss, create=True)
            if new_rs is None:
                return None
        if du.rs_replicas(new_rs) != du.replicas(d):
            self._replace(new_rs, await self._scale_rs(d, new_rs, du.replicas(d)))
        status = du.calculate_status([*old_rss, new_rs], new_rs, d, meta.now())
        if du.complete(d, status):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, new_rs, old_rss)

    def _old_pods_running(self, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if du.total_status(old_rss, "replicas") > 0:
            return True
        for rs in old_rss:
            for pod in self.pods.by_index("controller", rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        """Delete old ReplicaSets beyond revisionHistoryLimit, emptiest history first."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        excess = len(cleanable) - int(limit)
        if excess <= 0:
            return
        cleanable.sort(key=lambda rs: (du.revision(rs), du.created_at(rs)))
        for rs in cleanable[:excess]:
            if (
                du.rs_status(rs, "replicas") != 0
                or du.rs_replicas(rs) != 0
                or rs["metadata"].get("generation", 0) > du.rs_status(rs, "observedGeneration")
            ):
                continue
            try:
                await self.client.delete(
                    REPLICA_SETS,
                    meta.name_of(rs),
                    namespace=meta.namespace_of(rs),
                    preconditions={"uid": rs["metadata"]["uid"]},
                )
            except APINotFoundError:
                continue

    # --- status ---------------------------------------------------------------------------------

    async def _sync_rollout_status(
        self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]
    ) -> float | None:
        """Status with the Progressing condition judged against the deadline
        (syncRolloutStatus); the delay after which the deadline must be checked again."""
        now = meta.now()
        all_rss = [*old_rss, new_rs]
        status = du.calculate_status(all_rss, new_rs, d, now)
        deadline = du.progress_deadline(d)
        if deadline is None:
            du.remove_condition(status, du.PROGRESSING)
        current = du.condition(status, du.PROGRESSING)
        complete_before = (
            status["replicas"] == status["updatedReplicas"]
            and current is not None
            and current.get("reason") == du.NEW_RS_AVAILABLE
        )
        name = meta.name_of(new_rs) if new_rs is not None else ""
        if deadline is not None and not complete_before:
            if du.complete(d, status):
                message = (
                    f'ReplicaSet "{name}" has successfully progressed.'
                    if new_rs is not None
                    else f'Deployment "{meta.name_of(d)}" has successfully progressed.'
                )
                du.set_condition(
                    status,
                    du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE, message, now),
                )
            elif du.progressing(d, status):
                message = (
                    f'ReplicaSet "{name}" is progressing.'
                    if new_rs is not None
                    else f'Deployment "{meta.name_of(d)}" is progressing.'
                )
                cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, message, now)
                if current is not None:
                    cond["lastTransitionTime"] = transition_time(
                        current, "True", cond["lastTransitionTime"]
                    )
                    du.remove_condition(status, du.PROGRESSING)
                du.set_condition(status, cond)
            elif du.timed_out(d, status, now):
                message = (
                    f'ReplicaSet "{name}" has timed out progressing.'
                    if new_rs is not None
                    else f'Deployment "{meta.name_of(d)}" has timed out progressing.'
                )
                du.set_condition(
                    status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT, message, now)
                )
        failure = self._replica_failure(all_rss, new_rs)
        if failure is not None:
            du.set_condition(status, failure)
        else:
            du.remove_condition(status, du.REPLICA_FAILURE)
        await self._write_status(d, status)
        return self._recheck_in(d, status, now)

    @staticmethod
    def _replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> Obj | None:
        """The ReplicaFailure condition of the new ReplicaSet, or of any old one."""
        ordered = [new_rs, *(rs for rs in all_rss if rs is not new_rs)]
        for rs in ordered:
            if rs is None:
                continue
            cond = du.condition(rs.get("status") or {}, du.REPLICA_FAILURE)
            if cond is not None:
                return {
                    "type": du.REPLICA_FAILURE,
                    "status": cond.get("status", "True"),
                    "lastUpdateTime": cond.get("lastTransitionTime"),
                    "lastTransitionTime": cond.get("lastTransitionTime"),
                    "reason": cond.get("reason", ""),
                    "message": cond.get("message", ""),
                }
        return None

    @staticmethod
    def _recheck_in(d: Obj, status: Obj, now: dt.datetime) -> float | None:
        """When a rollout not yet complete would pass its deadline (requeueStuckDeployment):
        without this, a stalled rollout would only be judged at the next unrelated change."""
        deadline = du.progress_deadline(d)
        cond = du.condition(status, du.PROGRESSING)
        if deadline is None or cond is None or du.complete(d, status):
            return None
        if cond.get("reason") == du.TIMED_OUT:
            return None
        since = meta.parse_time(cond.get("lastUpdateTime") or "")
        if since is None:
            return None
        left = (since + dt.timedelta(seconds=deadline) - now).total_seconds()
        return 1.0 if left < 1.0 else left + 1.0

    async def _write_status(self, d: Obj, status: Obj) -> None:
        if (d.get("status") or {}) == status:
            return
        d["status"] = status
        await self._update_status(d)

    async def _update_status(self, d: Obj) -> None:
        """PUT the Deployment's status (and revision annotation); a conflict retries the sync."""
        try:
            updated = await self.client.update(
                DEPLOYMENTS, d, namespace=meta.namespace_of(d), subresource="status"
            )
        except APINotFoundError:
            return
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
