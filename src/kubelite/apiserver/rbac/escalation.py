"""RBAC's privilege-escalation check: nobody grants a right they do not hold.

Being allowed to write Roles and RoleBindings would otherwise be every right there is: a user
who may create RoleBindings could bind `cluster-admin` to themselves. So, as in Kubernetes'
`pkg/registry/rbac/*/policybased` storages, a write that grants something is let through only
when the writer

- is in `system:masters` (or is the server itself, writing with no user: the bootstrap),
- holds the `escalate` verb on the role (for Roles and ClusterRoles) or `bind` on the role a
  binding refers to (for bindings), or
- already holds every rule being granted, in that namespace or cluster-wide.

A ClusterRole's `aggregationRule` can gather any rule at all, so setting one takes every right.
An update that changes only owners and finalizers (the garbage collector's writes) is not
checked; any other update is, labels too, as in Kubernetes.
"""

from __future__ import annotations

from kubelite.api import errors, meta
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.auth import User, current_user
from kubelite.apiserver.rbac import rules
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer, privileged
from kubelite.apiserver.rbac.rules import Rule

GROUP = "rbac.authorization.k8s.io"
# What an aggregationRule needs: `*` on everything (Kubernetes' fullAuthority).
FULL_AUTHORITY = (
    Rule(("*",), ("*",), ("*",)),
    Rule(("*",), non_resource_urls=("*",)),
)
ROLE_RESOURCES = frozenset({"roles", "clusterroles"})
# What an update may change without being checked (IsOnlyMutatingGCFields), and what the
# server itself changes on the way (managedFields, resourceVersion).
_UNCHECKED_METADATA = (
    "ownerReferences",
    "finalizers",
    "selfLink",
    "managedFields",
    "resourceVersion",
)


def only_garbage_collection_fields(new: Obj, old: Obj) -> bool:
    """Whether an update changes nothing but owners and finalizers, which the garbage
    collector writes on objects whatever they grant."""
    copy = dict(new)
    metadata = dict(new.get("metadata") or {})
    old_metadata = old.get("metadata") or {}
    for key in _UNCHECKED_METADATA:
        metadata.pop(key, None)
        if key in old_metadata:
            metadata[key] = old_metadata[key]
    copy["metadata"] = metadata
    return copy == old


class EscalationCheck:
    """The validating admission of the four RBAC resources."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation not in ("CREATE", "UPDATE"):
            return
        user = current_user.get()
        if user is None or privileged(user):
            return
        if old is not None and only_garbage_collection_fields(obj, old):
            return
        namespace = meta.namespace_of(obj) if resource.namespaced else ""
        if resource.plural in ROLE_RESOURCES:
            self._check_role(user, resource, namespace, obj, old)
        else:
            self._check_binding(user, resource, namespace, obj)

    def _check_role(
        self, user: User, resource: ResourceType, namespace: str, obj: Obj, old: Obj | None
    ) -> None:
        name = meta.name_of(obj)
        # The name of the URL (RoleEscalationAuthorized): none on a create, so a rule that
        # names its roles never lets one be created.
        url_name = name if old is not None else ""
        if self.authorizer.allowed(
            Attributes(user, "escalate", True, namespace, GROUP, "*", resource.plural, "", url_name)
        ):
            return
        held = self.authorizer.policy.rules_for(user, namespace)
        self._confirm(user, resource, name, held, rules.parse_rules(obj.get("rules")))
        # An aggregationRule can gather any rule: an aggregated role is changed only by one who
        # holds every right, whether the rule is set, kept or taken away.
        aggregated = obj.get("aggregationRule") is not None or (
            old is not None and old.get("aggregationRule") is not None
        )
        if aggregated and rules.uncovered(held, FULL_AUTHORITY):
            raise errors.forbidden(
                resource.plural,
                name,
                "must have cluster-admin privileges to use the aggregationRule",
                GROUP,
            )

    def _check_binding(self, user: User, resource: ResourceType, namespace: str, obj: Obj) -> None:
        ref = obj.get("roleRef") or {}
        role_resource = "roles" if ref.get("kind") == "Role" else "clusterroles"
        role_name = ref.get("name") or ""
        if self.authorizer.allowed(
            Attributes(user, "bind", True, namespace, GROUP, "*", role_resource, "", role_name)
        ):
            return
        policy = self.authorizer.policy
        if role_resource == "roles":
            granted_rules = policy.roles.get((namespace, role_name))
        else:
            granted_rules = policy.cluster_roles.get(role_name)
        if granted_rules is None:
            raise errors.not_found(role_resource, role_name, GROUP)
        held = policy.rules_for(user, namespace)
        self._confirm(user, resource, meta.name_of(obj), held, granted_rules)

    def _confirm(
        self,
        user: User,
        resource: ResourceType,
        name: str,
        held: list[Rule],
        wanted: tuple[Rule, ...],
    ) -> None:
        """`ConfirmNoEscalation`: refused, listing what is missing, unless `held` covers it."""
        missing = rules.uncovered(held, wanted)
        if not missing:
            return
        described = sorted({str(r) for r in rules.compact(missing)})
        message = (
            f"user {go_quote(user.name)} (groups={rules.go_quote_list(user.groups)}) is attempting "
            "to grant RBAC permissions not currently held:\n" + "\n".join(described)
        )
        raise errors.forbidden(resource.plural, name, message, GROUP)
