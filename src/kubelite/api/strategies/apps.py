"""Strategies of the apps/v1 workloads (`pkg/registry/apps/*/strategy.go`).

All four track their spec by metadata.generation, keep their status behind the status
subresource, and may not change their selector (apps/v1 made it immutable). Deployments also
count a change of annotations as a new generation, because their annotations are copied onto
their ReplicaSets; DaemonSets number their template changes in the
`deprecated.daemonset.template.generation` annotation.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import meta, propagation
from kubelite.api.defaulting import apps as defaults
from kubelite.api.errors import FieldError
from kubelite.api.strategies.pods import drop_disabled_template_fields
from kubelite.api.strategy import Strategy, spec_changed
from kubelite.api.types import Obj
from kubelite.api.validation import apps as validation
from kubelite.api.validation import names

# k8s.io/api/apps/v1 types.go: DeprecatedTemplateGeneration, the v1 spelling of a DaemonSet's
# internal spec.templateGeneration.
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


class _Workload(Strategy):
    tracks_generation = True
    has_status_subresource = True
    # apps/v1 cascades by default; only the retired extensions/v1beta1, apps/v1beta1 and
    # apps/v1beta2 (not served) orphaned (each strategy's DefaultGarbageCollectionPolicy).
    garbage_collection_policy = propagation.DELETE_DEPENDENTS

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        drop_disabled_template_fields(meta.get_path(obj, "spec", "template"), None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        drop_disabled_template_fields(
            meta.get_path(new, "spec", "template"), meta.get_path(old, "spec", "template")
        )

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_selector_unchanged(new, old)


class DeploymentStrategy(_Workload):
    """How the registry treats a Deployment: its defaults and validation, and the annotation changes
    that count as a new generation, as Kubernetes' deployment strategy does."""

    def default(self, obj: Obj) -> None:
        defaults.default_deployment(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_deployment(obj)

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return spec_changed(new, old) or _annotations(new) != _annotations(old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        # The controller records the revision annotation through /status; labels stay.
        super().prepare_for_status_update(new, old)
        labels = meta.get_path(old, "metadata", "labels")
        if labels is None:
            meta.metadata(new).pop("labels", None)
        else:
            meta.metadata(new)["labels"] = labels

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Kubernetes checks the spec before the selector's immutability.
        errs = Strategy.validate_update(self, new, old) + validation.validate_deployment(new)
        return errs + validation.validate_selector_unchanged(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_deployment_status(
            new, old
        )


class ReplicaSetStrategy(_Workload):
    """How the registry treats a ReplicaSet: its defaults and validation, with a selector that may
    not change after creation."""

    def default(self, obj: Obj) -> None:
        defaults.default_replica_set(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_replica_set(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = Strategy.validate_update(self, new, old) + validation.validate_replica_set(new)
        return errs + validation.validate_selector_unchanged(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_replica_set_status(
            new, old
        )


class ReplicationControllerStrategy(_Workload):
    """v1 ReplicationController: the ReplicaSet's ancestor in the core group. Its selector may
    change, and a v1 delete orphans its pods unless told otherwise, for compatibility
    (pkg/registry/core/replicationcontroller/strategy.go)."""

    garbage_collection_policy = propagation.ORPHAN_DEPENDENTS

    def default(self, obj: Obj) -> None:
        defaults.default_replication_controller(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return Strategy.validate(self, obj) + validation.validate_replication_controller(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return Strategy.validate_update(
            self, new, old
        ) + validation.validate_replication_controller(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(
            new, old
        ) + validation.validate_replication_controller_status(new, old)


class StatefulSetStrategy(_Workload):
    """How the registry treats a StatefulSet: its defaults, its validation, and the spec fields an
    update may not touch."""

    # StatefulSet names become pod hostnames, so they are DNS labels.
    name_rule = staticmethod(names.name_is_dns_label)

    def default(self, obj: Obj) -> None:
        defaults.default_stateful_set(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_stateful_set(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # The selector is part of the spec ValidateStatefulSetUpdate forbids changing.
        return (
            Strategy.validate_update(self, new, old)
            + validation.validate_stateful_set(new)
            + validation.validate_stateful_set_update(new, old)
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_stateful_set_status(
            new, old
        )


class DaemonSetStrategy(_Workload):
    """How the registry treats a DaemonSet: besides defaults and validation, it counts template
    changes in the templateGeneration the controller reads."""

    def default(self, obj: Obj) -> None:
        defaults.default_daemon_set(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _set_template_generation(obj, 1)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # A client may not set the template generation; it counts template changes.
        generation = _template_generation(old)
        if meta.get_path(new, "spec", "template") != meta.get_path(old, "spec", "template"):
            generation += 1
        _set_template_generation(new, generation)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_daemon_set(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = Strategy.validate_update(self, new, old) + validation.validate_daemon_set(new)
        return errs + validation.validate_selector_unchanged(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_daemon_set_status(
            new, old
        )


class ControllerRevisionStrategy(Strategy):
    """ControllerRevisions: a workload's recorded states, immutable but for their number.

    They have no spec or status and no generation; their names are DNS subdomains
    (`<owner>-<hash>`).
    """

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_controller_revision(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_controller_revision_update(
            new, old
        )


def _annotations(obj: Obj) -> dict[str, Any]:
    return meta.get_path(obj, "metadata", "annotations", default={})


def _template_generation(obj: Obj) -> int:
    value = meta.get_path(
        obj, "metadata", "annotations", TEMPLATE_GENERATION_ANNOTATION, default="0"
    )
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _set_template_generation(obj: Obj, generation: int) -> None:
    md = meta.metadata(obj)
    annotations = md.get("annotations")
    if not isinstance(annotations, dict):
        annotations = md["annotations"] = {}
    annotations[TEMPLATE_GENERATION_ANNOTATION] = str(generation)
