"""The PodSecurity admission plugin: Pod Security Standards enforced per namespace.

kube-apiserver's built-in plugin (`plugin/pkg/admission/security/podsecurity` over
`k8s.io/pod-security-admission/admission`), in its default configuration: every mode defaults to
`privileged:latest`, and nothing is exempt (no namespaces, users or runtime classes). A
namespace's `pod-security.kubernetes.io/*` labels choose its policy (`levels.py`); the checks of
the chosen level and version (`registry.py`) are run on

- pods (`PodSecurity.pods`), on create and on the updates Kubernetes finds significant: a pod
  that violates the enforce level is refused with a 403, `pods "x" is forbidden: violates
  PodSecurity "restricted:latest": ...`; one that violates the warn level is admitted with a
  `would violate PodSecurity "...": ...` warning;
- the pod templates of workloads (`PodSecurity.workloads`: Deployments, ReplicaSets,
  StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers; Kubernetes also checks
  PodTemplates, which kubelite does not serve), which are warned about and never refused: the
  pods they make are checked when they are created;
- namespaces (`PodSecurity.namespaces`): labels that do not parse are refused (a 422 naming
  the label) on create, and on update when they changed; an update that makes the enforce level
  stricter is admitted with warnings naming the existing pods that would violate it.

Warnings go to the request's `Warning` headers (`auth.current_warnings`); the audit mode's
violations, the enforced policy and labels that did not parse go to the request's audit event
as annotations (`pod-security.kubernetes.io/audit-violations`, `enforce-policy`, `error`), as
the plugin's AddAuditAnnotations does. The audit level is only evaluated when the request is
audited: its annotation is its only use here (Kubernetes also counts it in metrics, which
kubelite leaves out).

kubelite's admission is not told which subresource a write goes through, so the writes
Kubernetes does not evaluate are told apart by what they change. For pods this is Kubernetes'
own rule (isSignificantPodUpdate): only an update that adds containers, changes an image (or a
container's seccomp annotation) or adds an ephemeral container is evaluated, which leaves out
status, binding and resize writes and keeps the ephemeralcontainers subresource in. For
workloads an update is evaluated unless it changes nothing but the status, `spec.replicas` and
the fields the server keeps, which is what status and scale writes change (an update of the
main resource that only changes the replicas is therefore not evaluated, where Kubernetes
would).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from kubelite.api import errors, meta
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import live_lookup
from kubelite.apiserver.audit.context import add_annotation, auditing
from kubelite.apiserver.auth import current_warnings
from kubelite.apiserver.podsecurity.baseline import SECCOMP_CONTAINER_ANNOTATION_PREFIX
from kubelite.apiserver.podsecurity.checks import AggregateCheckResult, aggregate, pluralize
from kubelite.apiserver.podsecurity.levels import (
    DEFAULT_POLICY,
    LATEST,
    PRIVILEGED,
    LevelVersion,
    Policy,
    compare_levels,
    policy_to_evaluate,
)
from kubelite.apiserver.podsecurity.registry import EVALUATOR, Evaluator
from kubelite.storage.interface import Store

# How many of a namespace's pods a stricter enforce level is tried on, and for how long
# (admission.go: defaultNamespaceMaxPodsToCheck, defaultNamespacePodCheckTimeout).
NAMESPACE_MAX_PODS_TO_CHECK = 3000
NAMESPACE_POD_CHECK_TIMEOUT = 1.0

# Where each workload keeps its pod template (DefaultPodSpecExtractor), by (group, resource).
POD_TEMPLATE_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "replicationcontrollers"): ("spec", "template"),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}

# The audit annotations the plugin adds, under its prefix (api.AuditAnnotationPrefix and the
# keys of k8s.io/pod-security-admission/api/constants.go).
AUDIT_ANNOTATION_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_POLICY_ANNOTATION = AUDIT_ANNOTATION_PREFIX + "enforce-policy"
AUDIT_VIOLATIONS_ANNOTATION = AUDIT_ANNOTATION_PREFIX + "audit-violations"
ERROR_ANNOTATION = AUDIT_ANNOTATION_PREFIX + "error"
# sharedAllowedPrivilegedResponse's annotation, for namespaces privileged in every mode.
_PRIVILEGED_POLICY = str(LevelVersion(PRIVILEGED, LATEST))

# The metadata only the server writes, which changes on every write, status writes included.
_SERVER_METADATA = ("resourceVersion", "generation", "managedFields")


def _warn(text: str) -> None:
    """warning.AddWarning: a `Warning` header on the request's answer (once per text)."""
    warnings = current_warnings.get()
    if warnings is not None and text not in warnings:
        warnings.append(text)


def _annotations(obj: Obj) -> dict[str, Any]:
    found = meta.get_path(obj, "metadata", "annotations")
    return found if isinstance(found, dict) else {}


def _significant_container_update(
    container: Obj, old: Obj, annotations: dict[str, Any], old_annotations: dict[str, Any]
) -> bool:
    if container.get("image") != old.get("image"):
        return True
    key = SECCOMP_CONTAINER_ANNOTATION_PREFIX + str(container.get("name") or "")
    return annotations.get(key) != old_annotations.get(key)


def is_significant_pod_update(pod: Obj, old: Obj) -> bool:
    """isSignificantPodUpdate: whether a pod update can change what the checks see (what else
    a pod update may change, they do not look at)."""
    spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
    annotations, old_annotations = _annotations(pod), _annotations(old)
    for key in ("containers", "initContainers"):
        new_list, old_list = spec.get(key) or [], old_spec.get(key) or []
        if len(new_list) != len(old_list):
            return True
        for container, old_container in zip(new_list, old_list, strict=True):
            if _significant_container_update(
                container, old_container, annotations, old_annotations
            ):
                return True
    old_ephemeral = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or ()}
    for container in spec.get("ephemeralContainers") or ():
        old_container = old_ephemeral.get(container.get("name"))
        if old_container is None or _significant_container_update(
            container, old_container, annotations, old_annotations
        ):
            return True
    return False


def _beyond_subresources(obj: Obj) -> tuple[Obj, Obj]:
    """A workload without what its status and scale subresources write."""
    spec = {k: v for k, v in (obj.get("spec") or {}).items() if k != "replicas"}
    metadata = {k: v for k, v in meta.metadata(obj).items() if k not in _SERVER_METADATA}
    return spec, metadata


def _controller_uid(pod: Obj) -> str | None:
    for ref in meta.get_path(pod, "metadata", "ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def prioritize_pods(pods: list[Obj]) -> list[Obj]:
    """prioritizePods: one pod of each controller first, the other pods of a controller after
    all the rest, so that a cut at the limit still covers every controller."""
    first: list[Obj] = []
    duplicates: list[Obj] = []
    seen: set[str] = set()
    for pod in pods:
        uid = _controller_uid(pod)
        if uid is not None and uid in seen:
            duplicates.append(pod)
            continue
        if uid is not None:
            seen.add(uid)
        first.append(pod)
    return first + duplicates


class PodSecurity:
    """The plugin's three admission checks, one per kind of object it looks at: `pods`,
    `namespaces` and `workloads` (each a validating admission callable)."""

    def __init__(
        self, store: Store, namespaces: ResourceType, *, evaluator: Evaluator = EVALUATOR
    ) -> None:
        self.store = store
        self.namespace_resource = namespaces
        pods = REGISTRY.lookup("", "v1", "pods")
        assert pods is not None
        self.pod_resource = pods
        self.evaluator = evaluator

    # --- pods -------------------------------------------------------------------------------

    async def pods(self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        """ValidatePod: enforce and warn on a pod create or significant update."""
        if operation not in ("CREATE", "UPDATE") or resource is not self.pod_resource:
            return
        if operation == "UPDATE" and old is not None and not is_significant_pod_update(obj, old):
            return
        namespace = meta.namespace_of(obj)
        labels = await self._namespace_labels(namespace)
        if labels is None:
            raise errors.internal_error(f"failed to lookup namespace {go_quote(namespace)}")
        policy, problems = policy_to_evaluate(labels, DEFAULT_POLICY)
        if not problems and policy.fully_privileged():
            add_annotation(ENFORCE_POLICY_ANNOTATION, _PRIVILEGED_POLICY)
            return
        pod_meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        self._annotate_problems(problems)
        add_annotation(ENFORCE_POLICY_ANNOTATION, str(policy.enforce))
        enforced = self._check(policy.enforce, pod_meta, spec)
        known = {policy.enforce: enforced}
        # Before refusing: a refused pod's event carries the audit violations too.
        self._audit(policy, pod_meta, spec, known)
        if not enforced.allowed:
            raise errors.forbidden(
                resource.plural,
                meta.name_of(obj),
                f"violates PodSecurity {go_quote(str(policy.enforce))}: "
                f"{enforced.forbidden_detail()}",
                resource.group,
            )
        self._warn_about(policy, pod_meta, spec, known)

    # --- workloads ----------------------------------------------------------------------------

    async def workloads(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """ValidatePodController: warn about a workload's pod template; never refuse."""
        path = POD_TEMPLATE_PATHS.get((resource.group, resource.plural))
        if path is None or operation not in ("CREATE", "UPDATE"):
            return
        if (
            operation == "UPDATE"
            and old is not None
            and _beyond_subresources(obj) == _beyond_subresources(old)
        ):
            return
        labels = await self._namespace_labels(meta.namespace_of(obj))
        if labels is None:
            # Kubernetes admits it, with the failed lookup in an audit annotation.
            return
        policy, problems = policy_to_evaluate(labels, DEFAULT_POLICY)
        if not problems and policy.warn.level == policy.audit.level == PRIVILEGED:
            return
        template = meta.get_path(obj, *path)
        if not isinstance(template, dict):
            return  # an optional template (a ReplicationController's) that is not there
        pod_meta, spec = template.get("metadata") or {}, template.get("spec") or {}
        self._annotate_problems(problems)
        known: dict[LevelVersion, AggregateCheckResult] = {}
        self._audit(policy, pod_meta, spec, known)
        self._warn_about(policy, pod_meta, spec, known)

    def _check(self, lv: LevelVersion, pod_meta: Obj, spec: Obj) -> AggregateCheckResult:
        return aggregate(self.evaluator.evaluate_pod(lv, pod_meta, spec))

    @staticmethod
    def _annotate_problems(problems: list[errors.FieldError]) -> None:
        """The labels that did not parse, for the audit log (EvaluatePod's `error`)."""
        if problems:
            add_annotation(
                ERROR_ANNOTATION, f"Failed to parse policy: {errors.aggregate(problems)}"
            )

    def _audit(
        self,
        policy: Policy,
        pod_meta: Obj,
        spec: Obj,
        known: dict[LevelVersion, AggregateCheckResult],
    ) -> None:
        """The audit level's violations as an audit annotation, when the request is audited;
        the result joins `known` for the warn level to reuse."""
        if not auditing():
            return
        result = known.get(policy.audit)
        if result is None:
            result = known[policy.audit] = self._check(policy.audit, pod_meta, spec)
        if not result.allowed:
            add_annotation(
                AUDIT_VIOLATIONS_ANNOTATION,
                f"would violate PodSecurity {go_quote(str(policy.audit))}: "
                f"{result.forbidden_detail()}",
            )

    def _warn_about(
        self,
        policy: Policy,
        pod_meta: Obj,
        spec: Obj,
        known: dict[LevelVersion, AggregateCheckResult],
    ) -> None:
        """The warning of a pod (or pod template) that violates the warn level; `known` holds
        the results of levels already evaluated."""
        result = (
            known[policy.warn] if policy.warn in known else self._check(policy.warn, pod_meta, spec)
        )
        if not result.allowed:
            _warn(
                f"would violate PodSecurity {go_quote(str(policy.warn))}: "
                f"{result.forbidden_detail()}"
            )

    # --- namespaces ---------------------------------------------------------------------------

    async def namespaces(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """ValidateNamespace: valid labels, and warnings about the pods a stricter enforce level
        would refuse."""
        if operation not in ("CREATE", "UPDATE") or resource is not self.namespace_resource:
            return
        name = meta.name_of(obj)
        policy, problems = policy_to_evaluate(meta.labels_of(obj), DEFAULT_POLICY)
        if operation == "CREATE" or old is None:
            if problems:
                raise errors.invalid_object(resource.kind, name, problems, resource.group)
            return
        old_policy, old_problems = policy_to_evaluate(meta.labels_of(old), DEFAULT_POLICY)
        # Labels that were already wrong in the same way do not block other updates.
        if problems and (not old_problems or problems != old_problems):
            raise errors.invalid_object(resource.kind, name, problems, resource.group)
        # Only a stricter enforce level is tried on the namespace's pods.
        if policy.enforce == old_policy.enforce or policy.enforce.level == PRIVILEGED:
            return
        if (
            policy.enforce.version == old_policy.enforce.version
            and compare_levels(policy.enforce.level, old_policy.enforce.level) < 1
        ):
            return
        for warning in await self._evaluate_pods_in_namespace(name, policy.enforce):
            _warn(warning)

    async def _evaluate_pods_in_namespace(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """EvaluatePodsInNamespace: one warning per distinct set of reasons, naming the first
        pod (by name) and how many others share it."""
        deadline = time.monotonic() + NAMESPACE_POD_CHECK_TIMEOUT
        listing = await self.store.list(self.pod_resource.key_prefix(namespace))
        pods = prioritize_pods([orjson.loads(kv.value) for kv in listing.items])
        total = len(pods)
        pods = pods[:NAMESPACE_MAX_PODS_TO_CHECK]
        checked = len(pods)
        # The pods refused for the same reasons: the lexically first one's name, and how many.
        by_reasons: dict[str, tuple[str, int]] = {}
        for i, pod in enumerate(pods):
            result = self._check(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
            if not result.allowed:
                name = meta.name_of(pod)
                first, count = by_reasons.get(result.forbidden_reason(), (name, 0))
                by_reasons[result.forbidden_reason()] = (min(first, name), count + 1)
            if time.monotonic() > deadline:
                checked = i + 1
                break
        warnings = []
        if checked < total:
            warnings.append(
                f"new PodSecurity enforce level only checked against the first {checked} of "
                f"{total} existing pods"
            )
        if by_reasons:
            warnings.append(
                f"existing pods in namespace {go_quote(namespace)} violate the new PodSecurity "
                f"enforce level {go_quote(str(enforce))}"
            )
        return warnings + sorted(
            f"{_pods_phrase(first, count)}: {reasons}"
            for reasons, (first, count) in by_reasons.items()
        )

    async def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        kv = await live_lookup.get(self.store, self.namespace_resource.key("", namespace))
        if kv is None:
            return None
        return meta.labels_of(orjson.loads(kv.value))


def _pods_phrase(first: str, count: int) -> str:
    """decoratePodWarnings: `web`, `web (and 1 other pod)`, `web (and 2 other pods)`."""
    if count == 1:
        return first
    return f"{first} (and {count - 1} other {pluralize('pod', 'pods', count - 1)})"
