"""The strategy of certificates.k8s.io/v1 CertificateSigningRequests
(`pkg/registry/certificates/certificates/strategy.go`).

A CSR is written by three hands, each through its own door:

- the requester creates it: who they are (username, uid, groups, extra) is filled in by the
  server from the request's user, whatever the body said, and the status starts empty; the spec
  never changes after that, and the main resource cannot touch the status;
- an approver writes `/approval`: only the conditions change there, Approved or Denied;
- the signer writes `/status`: the certificate (once) and conditions such as Failed, but never
  Approved or Denied.

Conditions get their lastUpdateTime and lastTransitionTime filled when a write leaves them out,
as `populateConditionTimestamps` does.
"""

from __future__ import annotations

import copy
from typing import ClassVar

from kubelite.api import csr as csrs
from kubelite.api import meta
from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import certificates as validation
from kubelite.api.validation.objectmeta import (
    dedupe,
    name_is_path_segment,
    validate_object_meta,
    validate_object_meta_update,
)
from kubelite.apiserver.auth import current_user


class CertificateSigningRequestStrategy(Strategy):
    """A CSR: made by its requester, approved through /approval, signed through /status."""

    namespaced = False
    has_status_subresource = True
    # ValidateCertificateRequestName: any name will do (that fits in a URL).
    name_rule = staticmethod(name_is_path_segment)
    field_labels = frozenset({"metadata.name", "spec.signerName"})
    # A /status write owns neither the spec nor the conditions (the status strategy's
    # GetResetFields): conditions are the approver's.
    status_reset_fields: ClassVar[tuple[str, ...]] = ("spec", "status.conditions")

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        for key in ("username", "uid", "groups", "extra"):
            spec.pop(key, None)
        user = current_user.get()
        if user is not None:
            if user.name:
                spec["username"] = user.name
            if user.uid:
                spec["uid"] = user.uid
            if user.groups:
                spec["groups"] = list(user.groups)
            if user.extra:
                spec["extra"] = {key: list(values) for key, values in user.extra}
        # Be explicit that nobody creates a request already approved.
        obj["status"] = {}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """The spec is immutable and the status belongs to the subresources."""
        for key in ("spec", "status"):
            if key in old:
                new[key] = copy.deepcopy(old[key])
            else:
                new.pop(key, None)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_csr(
            obj, validation.Options.for_update(obj, None)
        )

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._update_errors(new, old, validation.Options.for_update(new, old))

    def _update_errors(self, new: Obj, old: Obj, opts: validation.Options) -> list[FieldError]:
        """validateCertificateSigningRequestUpdate, in its order: the object's own rules, what
        the update may not do, then what metadata may not become."""
        own = validate_object_meta(new, namespaced=False, name_rule=name_is_path_segment)
        return dedupe(
            own
            + validation.validate_csr(new, opts)
            + validation.validate_update(new, old, opts)
            + validate_object_meta_update(new, old)
        )

    # --- /status: the signer's door -------------------------------------------------------

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """The spec stays; Approved and Denied conditions stay as they were (an added or
        removed one is left for validation to refuse); timestamps are filled in."""
        super().prepare_for_status_update(new, old)
        for kind in (csrs.APPROVED, csrs.DENIED):
            _preserve_conditions(new, old, kind)
        _populate_timestamps(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._update_errors(new, old, validation.options_for_status(new, old))

    # --- /approval: the approver's door ------------------------------------------------------

    def prepare_for_approval(self, new: Obj, old: Obj) -> None:
        """Only the conditions come from the write; everything else is the stored object's."""
        _populate_timestamps(new, old)
        wanted = (new.get("status") or {}).get("conditions")
        for key in set(new) - {"metadata", "apiVersion", "kind"}:
            if key not in old:
                new.pop(key)
        for key in set(old) - {"metadata", "apiVersion", "kind"}:
            new[key] = copy.deepcopy(old[key])
        status = new.setdefault("status", {})
        if wanted:
            status["conditions"] = wanted
        else:
            status.pop("conditions", None)

    def validate_approval(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._update_errors(new, old, validation.options_for_approval(new, old))

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"spec.signerName": str((obj.get("spec") or {}).get("signerName") or "")}


def _conditions(obj: Obj) -> list[Obj]:
    status = obj.get("status")
    found = status.get("conditions") if isinstance(status, dict) else None
    return found if isinstance(found, list) else []


def _preserve_conditions(new: Obj, old: Obj, kind: str) -> None:
    """preserveConditionInstances: the stored instances of `kind`, when as many are sent."""
    old_all, new_all = _conditions(old), _conditions(new)
    old_at = [i for i, c in enumerate(old_all) if isinstance(c, dict) and c.get("type") == kind]
    new_at = [i for i, c in enumerate(new_all) if isinstance(c, dict) and c.get("type") == kind]
    if len(old_at) != len(new_at):
        return
    for o, n in zip(old_at, new_at, strict=True):
        new_all[n] = copy.deepcopy(old_all[o])


def _populate_timestamps(new: Obj, old: Obj) -> None:
    """populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime kept
    from a stored condition of the same type and status, or now."""
    now = meta.format_time(meta.now())
    for condition in _conditions(new):
        if not isinstance(condition, dict):
            continue
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            transition = now
            for previous in _conditions(old):
                if (
                    isinstance(previous, dict)
                    and previous.get("type") == condition.get("type")
                    and previous.get("status") == condition.get("status")
                    and previous.get("lastTransitionTime")
                ):
                    transition = previous["lastTransitionTime"]
                    break
            condition["lastTransitionTime"] = transition
