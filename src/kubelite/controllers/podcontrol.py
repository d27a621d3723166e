"""Creating, deleting, adopting and releasing the pods of a workload controller.

Kubernetes' `controller.RealPodControl`, `PodControllerRefManager` and `slowStartBatch`:

- a pod is made from the owner's template: its labels, annotations and finalizers, a
  `generateName` of the owner's name and a dash, and an ownerReference to the owner with
  `controller: true` and `blockOwnerDeletion: true`; each create and delete is reported as an
  Event on the owner (`SuccessfulCreate` "Created pod: web-x7k2p", `FailedCreate` ...);
- creates go out in batches of 1, 2, 4, 8 ... and stop at the first batch with a failure, so a
  controller whose pods are all refused (quota, a bad template) sends one request, not 500;
- `claim` gives an owner the pods it should control: it adopts orphans its selector matches
  (unless it is itself being deleted) and releases the pods it controls that no longer match.
  Both are strategic-merge patches that name the pod's uid, so a pod re-created under the same
  name in between is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kubelite.api import labels, meta
from kubelite.api.resources import PODS, Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.controllers import podutil

log = logging.getLogger(__name__)


# Pods one sync of a ReplicaSet creates or deletes at most (Kubernetes' BurstReplicas).
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1


def owner_reference(owner: Obj) -> Obj:
    """The controller reference a workload puts on what it makes."""
    md = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": md["name"],
        "uid": md["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(template: Obj, owner: Obj, *, generate_name: str = "") -> Obj:
    """A pod to create for `owner` from its pod template (controller.GetPodFromTemplate)."""
    template_md = template.get("metadata") or {}
    md: Obj = {"ownerReferences": [owner_reference(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if template_md.get(field):
            md[field] = meta.clone(template_md[field])
    if generate_name:
        md["generateName"] = generate_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": meta.clone(template.get("spec") or {}),
    }


async def slow_start_batch(
    count: int, fn: Callable[[], Awaitable[None]], initial: int = SLOW_START_INITIAL_BATCH
) -> tuple[int, BaseException | None]:
    """Call `fn` `count` times in growing batches; (successes, the first error, if any).

    Batches double from `initial`; once a batch has a failure, no further batch starts.
    """
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            return done, errors[0]
        remaining = count - done
        batch = min(remaining, 2 * batch)
    return done, None


class PodControl:
    """Pod writes on behalf of one kind of owner, with their Events."""

    def __init__(self, client: APIClient, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    def event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Record an Event without waiting for it: a report never holds up the work."""
        self.recorder.post(obj, event_type, reason, message)

    async def create(self, owner: Obj, pod: Obj) -> Obj:
        namespace = owner["metadata"]["namespace"]
        try:
            created = await self.client.create(PODS, pod, namespace=namespace)
        except APIError as e:
            self.event(owner, WARNING, "FailedCreate", f"Error creating: {e}")
            raise
        self.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {meta.name_of(created)}")
        return created

    async def delete(self, owner: Obj, pod: Obj) -> bool:
        """Delete `pod` (that very one, by uid); False when it was gone already."""
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        try:
            await self.client.delete(
                PODS, name, namespace=namespace, preconditions={"uid": pod["metadata"]["uid"]}
            )
        except APINotFoundError:
            return False  # Gone already: what the delete was for.
        except APIError as e:
            self.event(owner, WARNING, "FailedDelete", f"Error deleting: {e}")
            raise
        self.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")
        return True

    # --- adoption ---------------------------------------------------------------------------------

    async def claim(
        self,
        owner: Obj,
        selector: labels.Selector,
        pods: list[Obj],
        can_adopt: Callable[[], Awaitable[bool]],
        resource: Resource = PODS,
        member: Callable[[Obj], bool] | None = None,
    ) -> list[Obj]:
        """The pods `owner` controls once orphans are adopted and strays released.

        `pods` are the candidates in the owner's namespace (of `resource`: a Deployment claims
        ReplicaSets the same way). `can_adopt` is asked (once, and
        only if there is an orphan to adopt) whether the owner may still adopt: Kubernetes
        re-reads the owner from the API so that an owner deleted meanwhile adopts nothing.
        `member`, when given, must also accept a pod for it to match (ClaimPods' filters: a
        StatefulSet claims only pods named as its own).
        """
        uid = owner["metadata"]["uid"]
        claimed: list[Obj] = []
        may_adopt: bool | None = None
        for pod in pods:
            ref = podutil.controller_ref(pod)
            matches = selector.matches(meta.labels_of(pod)) and (member is None or member(pod))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue  # Another controller's.
                if matches:
                    claimed.append(pod)
                elif not owner["metadata"].get("deletionTimestamp"):
                    # Ours but no longer selected: let go, unless we are going anyway.
                    with contextlib.suppress(APINotFoundError):
                        await self._release(owner, pod, resource)
                continue
            if (
                not matches
                or podutil.is_terminating(pod)
                or owner["metadata"].get("deletionTimestamp")
            ):
                continue
            if may_adopt is None:
                may_adopt = await can_adopt()
            if not may_adopt:
                continue
            try:
                claimed.append(await self._adopt(owner, pod, resource))
            except APINotFoundError:
                continue
        return claimed

    async def _adopt(self, owner: Obj, pod: Obj, resource: Resource) -> Obj:
        patch = {
            "metadata": {
                "ownerReferences": [owner_reference(owner)],
                "uid": pod["metadata"]["uid"],
            }
        }
        return await self.client.patch(
            resource,
            meta.name_of(pod),
            patch,
            patch_type=PatchType.STRATEGIC,
            namespace=meta.namespace_of(pod),
        )

    async def _release(self, owner: Obj, pod: Obj, resource: Resource) -> None:
        patch = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": owner["metadata"]["uid"]}],
                "uid": pod["metadata"]["uid"],
            }
        }
        await self.client.patch(
            resource,
            meta.name_of(pod),
            patch,
            patch_type=PatchType.STRATEGIC,
            namespace=meta.namespace_of(pod),
        )
