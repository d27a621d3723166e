"""Pod and claim writes of the StatefulSet controller, with the Events Kubernetes records.

Kubernetes' `stateful_pod_control.go`. A pod's claims are created before the pod (a pod must
never start without its storage), and after each change the claims' ownerReferences are brought
in line with the retention policy. Reads come from the informers' caches and writes go to the
API through an `ObjectManager`, which unit tests replace with one in memory.

Events are on the StatefulSet, worded as Kubernetes words them:
`SuccessfulCreate` "create Pod web-0 in StatefulSet web successful",
`SuccessfulCreate` "create Claim data-web-0 Pod web-0 in StatefulSet web success",
`FailedCreate` "create Pod web-0 in StatefulSet web failed error: ..." and the like for delete
and update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kubelite.api import meta
from kubelite.api.resources import PERSISTENT_VOLUME_CLAIMS, PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIAlreadyExistsError, APIError
from kubelite.client.events import NORMAL, WARNING
from kubelite.client.informer import Informer
from kubelite.controllers import statefulset_pods as sp

Recorder = Callable[[Obj, str, str, str], None]


class ClaimError(Exception):
    """Claims that could not be made or read (an aggregate of messages, as utilerrors gives)."""


class ObjectManager(Protocol):
    """Where pods and claims are read (a cache) and written (the API)."""

    async def create_pod(self, pod: Obj) -> Obj: ...

    def get_pod(self, namespace: str, name: str) -> Obj | None: ...

    async def update_pod(self, pod: Obj) -> Obj: ...

    async def delete_pod(self, pod: Obj) -> None: ...

    async def create_claim(self, claim: Obj) -> Obj: ...

    def get_claim(self, namespace: str, name: str) -> Obj | None: ...

    async def update_claim(self, claim: Obj) -> Obj: ...


class ApiObjectManager:
    """The real one: informer caches for reads, the API client for writes."""

    def __init__(self, client: APIClient, pods: Informer, claims: Informer) -> None:
        self.client = client
        self.pods = pods
        self.claims = claims

    async def create_pod(self, pod: Obj) -> Obj:
        return await self.client.create(PODS, pod, namespace=meta.namespace_of(pod))

    def get_pod(self, namespace: str, name: str) -> Obj | None:
        return self.pods.get(f"{namespace}/{name}")

    async def update_pod(self, pod: Obj) -> Obj:
        return await self.client.update(PODS, pod, namespace=meta.namespace_of(pod))

    async def delete_pod(self, pod: Obj) -> None:
        # The uid precondition: a pod re-created under the same name is not this one.
        uid = (pod.get("metadata") or {}).get("uid")
        await self.client.delete(
            PODS,
            meta.name_of(pod),
            namespace=meta.namespace_of(pod),
            preconditions={"uid": uid} if uid else None,
        )

    async def create_claim(self, claim: Obj) -> Obj:
        return await self.client.create(
            PERSISTENT_VOLUME_CLAIMS, claim, namespace=meta.namespace_of(claim)
        )

    def get_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(f"{namespace}/{name}")

    async def update_claim(self, claim: Obj) -> Obj:
        return await self.client.update(
            PERSISTENT_VOLUME_CLAIMS, claim, namespace=meta.namespace_of(claim)
        )


def typed_pod(pod: Obj) -> Obj:
    """A pod with apiVersion and kind, which ownerReferences to it need (cache items lack them)."""
    return {**pod, "apiVersion": "v1", "kind": "Pod"}


def _error_text(error: BaseException) -> str:
    return error.message if isinstance(error, APIError) else str(error)


class StatefulPodControl:
    """Creates, updates and deletes a set's pods and claims, recording Events on the set."""

    def __init__(self, objects: ObjectManager, record: Recorder) -> None:
        self.objects = objects
        self.record = record

    # --- Events ---------------------------------------------------------------------------------

    def _pod_event(self, verb: str, sset: Obj, pod: Obj, error: BaseException | None) -> None:
        what = f"{verb} Pod {meta.name_of(pod)} in StatefulSet {meta.name_of(sset)}"
        if error is None:
            self.record(sset, NORMAL, f"Successful{verb.title()}", f"{what} successful")
        else:
            message = f"{what} failed error: {_error_text(error)}"
            self.record(sset, WARNING, f"Failed{verb.title()}", message)

    def _claim_event(
        self, verb: str, sset: Obj, pod: Obj, claim: Obj, error: BaseException | None
    ) -> None:
        pod_name, set_name, name = meta.name_of(pod), meta.name_of(sset), meta.name_of(claim)
        if error is None:
            message = f"{verb} Claim {name} Pod {pod_name} in StatefulSet {set_name} success"
            self.record(sset, NORMAL, f"Successful{verb.title()}", message)
        else:
            message = (
                f"{verb} Claim {name} for Pod {pod_name} in StatefulSet {set_name} failed "
                f"error: {_error_text(error)}"
            )
            self.record(sset, WARNING, f"Failed{verb.title()}", message)

    # --- pods -----------------------------------------------------------------------------------

    async def create_pod(self, sset: Obj, pod: Obj) -> None:
        """Claims first, then the pod, then the claims' owners (CreateStatefulPod)."""
        try:
            await self.create_claims(sset, pod)
        except ClaimError as e:
            self._pod_event("create", sset, pod, e)
            raise
        try:
            created = await self.objects.create_pod(pod)
        except APIAlreadyExistsError:
            raise  # Our cache is behind: no event, and the key is retried.
        except APIError as e:
            self._pod_event("create", sset, pod, e)
            raise
        try:
            await self.update_claims_for_retention(sset, typed_pod(created))
        except (APIError, ClaimError) as e:
            self._pod_event("update", sset, pod, e)
            raise
        self._pod_event("create", sset, pod, None)

    async def delete_pod(self, sset: Obj, pod: Obj) -> None:
        try:
            await self.objects.delete_pod(pod)
        except APIError as e:
            self._pod_event("delete", sset, pod, e)
            raise
        self._pod_event("delete", sset, pod, None)

    async def update_pod(self, sset: Obj, pod: Obj) -> None:
        """Give the pod back its identity and storage, and its claims their owners
        (UpdateStatefulPod); the pod is written only if it changed."""
        pod = typed_pod(meta.clone(pod))
        consistent = True
        if not sp.identity_matches(sset, pod):
            sp.update_identity(sset, pod)
            consistent = False
        if not sp.storage_matches(sset, pod):
            sp.update_storage(sset, pod)
            consistent = False
            try:
                await self.create_claims(sset, pod)
            except ClaimError as e:
                self._pod_event("update", sset, pod, e)
                raise
        try:
            if not self.claims_match_retention_policy(sset, pod):
                await self.update_claims_for_retention(sset, pod)
        except (APIError, ClaimError) as e:
            self._pod_event("update", sset, pod, e)
            raise
        if consistent:
            return
        try:
            await self.objects.update_pod(pod)
        except APIError as e:
            self._pod_event("update", sset, pod, e)
            raise
        self._pod_event("update", sset, pod, None)

    # --- claims ---------------------------------------------------------------------------------

    def _claims_of(self, sset: Obj, pod: Obj) -> list[Obj]:
        """The pod's existing claims (those not made yet are picked up on a later sync)."""
        found = []
        for claim in sp.claims_for(sset, sp.ordinal_of(pod)).values():
            existing = self.objects.get_claim(meta.namespace_of(sset), meta.name_of(claim))
            if existing is not None:
                found.append(existing)
        return found

    def claims_match_retention_policy(self, sset: Obj, pod: Obj) -> bool:
        pod = typed_pod(pod)
        return all(sp.claim_owner_up_to_date(c, sset, pod) for c in self._claims_of(sset, pod))

    async def update_claims_for_retention(self, sset: Obj, pod: Obj) -> None:
        """Rewrite the ownerReferences of the pod's claims that the policy wants otherwise."""
        pod = typed_pod(pod)
        for claim in self._claims_of(sset, pod):
            if sp.has_unexpected_controller(claim, sset, pod):
                self.record(
                    sset,
                    WARNING,
                    "ConflictingController",
                    f"PersistentVolumeClaim {meta.name_of(claim)} has a conflicting "
                    "OwnerReference that acts as a manging controller, the retention policy "
                    "is ignored for this claim",
                )
            if sp.claim_owner_up_to_date(claim, sset, pod):
                continue
            updated = meta.clone(claim)
            updated["apiVersion"], updated["kind"] = "v1", "PersistentVolumeClaim"
            updated["metadata"]["ownerReferences"] = sp.claim_owner_refs(claim, sset, pod)
            if not updated["metadata"]["ownerReferences"]:
                del updated["metadata"]["ownerReferences"]
            try:
                await self.objects.update_claim(updated)
            except APIError as e:
                raise ClaimError(
                    f"could not update claim {meta.name_of(claim)} for delete policy "
                    f"ownerRefs: {_error_text(e)}"
                ) from e

    def claim_is_stale(self, sset: Obj, pod: Obj) -> bool:
        """Under whenScaled: Delete, a claim still owned by an earlier pod of this name must go
        (the garbage collector is on it) before the pod is made again (PodClaimIsStale)."""
        if sp.retention_policy(sset)[1] == sp.RETAIN:
            return False
        pod = typed_pod(pod)
        for claim in sp.claims_for(sset, sp.ordinal_of(pod)).values():
            existing = self.objects.get_claim(meta.namespace_of(claim), meta.name_of(claim))
            if existing is not None and sp.has_stale_owner_ref(existing, pod):
                return True
        return False

    async def create_claims(self, sset: Obj, pod: Obj) -> None:
        """Create the pod's missing claims; ClaimError names every one that failed, or that is
        being deleted (createPersistentVolumeClaims)."""
        problems = []
        for claim in sp.claims_for(sset, sp.ordinal_of(pod)).values():
            name = meta.name_of(claim)
            existing = self.objects.get_claim(meta.namespace_of(claim), name)
            if existing is None:
                try:
                    await self.objects.create_claim(claim)
                except APIAlreadyExistsError as e:
                    problems.append(f"failed to create PVC {name}: {_error_text(e)}")
                except APIError as e:
                    problems.append(f"failed to create PVC {name}: {_error_text(e)}")
                    self._claim_event("create", sset, pod, claim, e)
                else:
                    self._claim_event("create", sset, pod, claim, None)
            elif (existing.get("metadata") or {}).get("deletionTimestamp"):
                problems.append(f"pvc {name} is being deleted")
        if problems:
            raise ClaimError(problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]")

    async def create_missing_claims(self, sset: Obj, pod: Obj) -> None:
        """For a pending pod whose claim was deleted under it: make it again."""
        await self.create_claims(sset, pod)
        try:
            await self.update_claims_for_retention(sset, pod)
        except (APIError, ClaimError) as e:
            self._pod_event("update", sset, pod, e)
            raise
