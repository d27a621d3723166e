"""Strategies of the core/v1 kinds other than Pod and Event (`pkg/registry/core/*/strategy.go`).

Besides the strategies, this module holds what the Service REST code needs to give services
their cluster IPs, as Kubernetes' `pkg/registry/core/service/storage` does around its strategy:
keeping `clusterIP` and `clusterIPs` in step, filling `ipFamilies` and `ipFamilyPolicy`, and
saying which IP a service needs (`cluster_ip_request`) so that the caller can allocate it and
record it (`assign_cluster_ip`) before validation.
"""

from __future__ import annotations

from kubelite.api import meta, propagation
from kubelite.api.defaulting import core as defaults
from kubelite.api.errors import FieldError, invalid
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import claims, names
from kubelite.api.validation import core as validation
from kubelite.api.validation.objectmeta import FINALIZER_KUBERNETES

NAMESPACE_TERMINATING = "Terminating"
# The IP families this cluster serves (kube-apiserver --service-cluster-ip-range: one IPv4
# range); the first is the default family of new services.
CLUSTER_IP_FAMILIES = ("IPv4",)


class NamespaceStrategy(Strategy):
    """Namespaces are cluster-scoped, named as DNS labels, and end by Terminating.

    Deleting a namespace first only marks it (`begin_termination`); the namespace controller
    empties it, removes the `kubernetes` finalizer through /finalize, and the namespace goes
    once `finalized` says its spec.finalizers are gone.
    """

    namespaced = False
    has_status_subresource = True
    returns_deleted_object = True
    name_rule = staticmethod(names.name_is_dns_label)
    field_labels = frozenset({"metadata.name", "status.phase"})

    def default(self, obj: Obj) -> None:
        defaults.default_namespace(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": defaults.NAMESPACE_ACTIVE}
        # Required on create only: it may be removed over the namespace's life (/finalize).
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        finalizers = spec.get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = spec["finalizers"] = []
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_namespace_spec(obj)

    def canonicalize(self, obj: Obj) -> None:
        # A generated name is only known now; the label must follow it.
        defaults.ensure_name_label(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _copy_field(new, old, "spec", "finalizers")

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(
            new, old
        ) + validation.validate_namespace_status_update(new)

    def prepare_for_finalize(self, new: Obj, old: Obj) -> None:
        """A /finalize write may change spec.finalizers, never the status."""
        if "status" in old:
            new["status"] = old["status"]

    def validate_finalize(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._validate_metadata_update(
            new, old
        ) + validation.validate_namespace_finalize_update(new)

    def begin_termination(self, obj: Obj, now: str) -> None:
        """The first DELETE: stamp deletionTimestamp (once) and enter the Terminating phase."""
        md = meta.metadata(obj)
        if not md.get("deletionTimestamp"):
            md["deletionTimestamp"] = now
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        status["phase"] = NAMESPACE_TERMINATING

    def finalized(self, obj: Obj) -> bool:
        """Whether a terminating namespace may go: nothing is left in spec.finalizers."""
        return not meta.get_path(obj, "spec", "finalizers")

    def holds_deletion(self, obj: Obj) -> bool:
        return not self.finalized(obj)

    def begin_deletion(self, obj: Obj, now: str) -> None:
        self.begin_termination(obj, now)
        # The namespace REST storage sets only the timestamp and the phase.
        meta.metadata(obj).pop("deletionGracePeriodSeconds", None)

    def deletion_finalizers(
        self, obj: Obj, propagation_policy: str, orphan_dependents: bool | None
    ) -> list[str]:
        """The namespace registry's own rule on the first DELETE; the generic one after it,
        once the namespace's content is gone (its Delete hands over to the generic store)."""
        if meta.get_path(obj, "metadata", "deletionTimestamp"):
            return super().deletion_finalizers(obj, propagation_policy, orphan_dependents)
        return propagation.namespace_deletion_finalizers(
            meta.get_path(obj, "metadata", "finalizers", default=None) or [],
            propagation=propagation_policy,
            orphan_dependents=orphan_dependents,
        )

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.phase": meta.get_path(obj, "status", "phase", default="")}


class NodeStrategy(Strategy):
    """Nodes are cluster-scoped; the kubelet registers one with its status already filled."""

    namespaced = False
    has_status_subresource = True
    field_labels = frozenset({"metadata.name", "spec.unschedulable"})

    def default(self, obj: Obj) -> None:
        defaults.default_node(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        """Unlike most kinds, a new Node keeps the status it was created with."""

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_node(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_update(new, old)
            + validation.validate_node(new, old)
            + validation.validate_node_update(new, old)
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_status_update(new, old)
            + validation.validate_node(new, old)
            + validation.validate_node_update(new, old)
        )

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        unschedulable = meta.get_path(obj, "spec", "unschedulable", default=False)
        return {"spec.unschedulable": "true" if unschedulable else "false"}


class ServiceStrategy(Strategy):
    """Services: DNS-1123 label names, cluster IP bookkeeping, and a load-balancer status.

    RelaxedServiceNameValidation (KEP-5311, GA in 1.37) validates a new Service's name with
    NameIsDNSLabel instead of NameIsDNS1035Label: it may start with a digit. The name is
    immutable, so an update never meets the rule again."""

    has_status_subresource = True
    allow_create_on_update = True
    returns_deleted_object = True
    name_rule = staticmethod(names.name_is_dns_label)
    field_labels = frozenset({"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"})

    def default(self, obj: Obj) -> None:
        defaults.default_service(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        # ServiceStatus{} serializes with its (empty) loadBalancer struct.
        obj["status"] = {"loadBalancer": {}}
        normalize_cluster_ips(obj, None)
        init_ip_family_fields(obj, None)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_service(obj) + cluster_family_errors(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        normalize_cluster_ips(new, old)
        patch_allocated_values(new, old)
        drop_type_dependent_fields(new, old)
        init_ip_family_fields(new, old)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_update(new, old)
            + validation.validate_service_update(new, old)
            + validation.validate_service(new, old)
            + cluster_family_errors(new)
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_service_status(
            new, old
        )

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec = obj.get("spec") or {}
        return {"spec.clusterIP": spec.get("clusterIP") or "", "spec.type": spec.get("type") or ""}


class EndpointsStrategy(Strategy):
    """How the registry treats a v1 Endpoints: defaults, validation, and creation by PUT, which
    Kubernetes allows for Endpoints."""

    allow_create_on_update = True

    def default(self, obj: Obj) -> None:
        defaults.default_endpoints(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_endpoints(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_endpoints(new, old)


class ConfigMapStrategy(Strategy):
    """How the registry treats a ConfigMap: validation of its keys and size, and immutability once
    `immutable` is set."""

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_config_map(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_update(new, old)
            + validation.validate_config_map_update(new, old)
            + validation.validate_config_map(new)
        )


class SecretStrategy(Strategy):
    """How the registry treats a Secret: defaults, validation by its `type`, immutability once
    `immutable` is set, and `type` as a field selector."""

    field_labels = frozenset({"metadata.name", "metadata.namespace", "type"})

    def default(self, obj: Obj) -> None:
        defaults.default_secret(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_secret(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_update(new, old)
            + validation.validate_secret_update(new, old)
            + validation.validate_secret(new)
        )

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"type": obj.get("type") or ""}


class PersistentVolumeClaimStrategy(Strategy):
    """PersistentVolumeClaims: a spec fixed at creation, a status the binder owns.

    A new claim is Pending (its status is reset on create, and the v1 default gives the
    phase). Kubernetes' StorageObjectInUseProtection admission also adds the
    `kubernetes.io/pvc-protection` finalizer, which its pvc-protection controller removes;
    kubelite has neither yet, so its claims carry no finalizer and delete at once.
    A delete answers with the claim (ReturnDeletedObject in its storage.go).
    """

    has_status_subresource = True
    returns_deleted_object = True

    def default(self, obj: Obj) -> None:
        defaults.default_persistent_volume_claim(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": defaults.CLAIM_PENDING}

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + claims.validate_claim(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + claims.validate_claim_update(new, old)


class ServiceAccountStrategy(Strategy):
    """ServiceAccounts have nothing to check beyond their metadata (ValidateServiceAccount).
    A delete answers with the account (ReturnDeletedObject in its storage.go)."""

    returns_deleted_object = True


def _copy_field(new: Obj, old: Obj, *path: str) -> None:
    """Set new's field at `path` to old's, or remove it when old has none."""
    old_value = meta.get_path(old, *path)
    parent = new
    for part in path[:-1]:
        child = parent.get(part)
        if not isinstance(child, dict):
            if old_value is None:
                return
            child = parent[part] = {}
        parent = child
    if old_value is None:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = old_value


# --- cluster IPs (pkg/registry/core/service/storage) -------------------------------------------


def _spec(svc: Obj) -> Obj:
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    return spec


def needs_cluster_ip(svc: Obj) -> bool:
    """needsClusterIP: every type but ExternalName has a clusterIP (headless ones "None")."""
    return _spec(svc).get("type") != defaults.SERVICE_EXTERNAL_NAME


def needs_node_ports(svc: Obj) -> bool:
    """needsNodePort: NodePort services, and LoadBalancers that allocate node ports."""
    spec = _spec(svc)
    if spec.get("type") == defaults.SERVICE_NODE_PORT:
        return True
    return (
        spec.get("type") == defaults.SERVICE_LOAD_BALANCER
        and spec.get("allocateLoadBalancerNodePorts", True) is not False
    )


def cluster_ip_request(svc: Obj) -> str | None:
    """The cluster IP to allocate before validation: None when the service gets none
    (ExternalName, headless, or one already held), "" for any free IP, else the IP asked for."""
    if not needs_cluster_ip(svc):
        return None
    spec = _spec(svc)
    ips = spec.get("clusterIPs") or []
    if ips and ips[0] == validation.CLUSTER_IP_NONE:
        return None
    return ips[0] if ips else ""


def assign_cluster_ip(svc: Obj, ip: str) -> None:
    """Record an allocated cluster IP in both fields."""
    spec = _spec(svc)
    spec["clusterIP"] = ip
    ips = list(spec.get("clusterIPs") or [])
    spec["clusterIPs"] = [ip, *ips[1:]]


def normalize_cluster_ips(svc: Obj, old: Obj | None) -> None:
    """normalizeClusterIPs: keep clusterIP and clusterIPs in step for clients that set one."""
    spec = _spec(svc)
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = spec.get("clusterIPs") or []
    if old is None:
        # An old client sets only clusterIP; new clients set both, or neither.
        if cluster_ip and not cluster_ips:
            spec["clusterIPs"] = [cluster_ip]
        return
    old_spec = old.get("spec") or {}
    old_ip = old_spec.get("clusterIP") or ""
    old_ips = old_spec.get("clusterIPs") or []
    if old_ips and not cluster_ips and old_ip == cluster_ip:
        # A client that does not know clusterIPs dropped them while changing something else.
        spec["clusterIPs"] = list(old_ips)
        cluster_ips = spec["clusterIPs"]
    if old_ip != cluster_ip:
        same_ips = cluster_ips == old_ips
        if old_ip and not cluster_ip:
            if same_ips:
                spec.pop("clusterIPs", None)
        elif same_ips:
            spec["clusterIPs"] = [cluster_ip]


def patch_allocated_values(new: Obj, old: Obj) -> None:
    """patchAllocatedValues: an update that leaves out allocated values keeps them."""
    spec, old_spec = _spec(new), old.get("spec") or {}
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(new):
        used = _node_ports(old) & _node_ports(new)
        by_name = {
            (p.get("name") or "", p.get("protocol") or ""): p.get("nodePort") or 0
            for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                previous = by_name.get((port.get("name") or "", port.get("protocol") or ""), 0)
                if previous and previous not in used:
                    port["nodePort"] = previous
    if (
        validation.needs_health_check(old)
        and validation.needs_health_check(new)
        and not spec.get("healthCheckNodePort")
        and old_spec.get("healthCheckNodePort")
    ):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _node_ports(svc: Obj) -> set[int]:
    return {p["nodePort"] for p in (svc.get("spec") or {}).get("ports") or [] if p.get("nodePort")}


def drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """dropTypeDependentFields: a type change wipes what the new type has no use for, unless
    the client changed it too (then validation speaks)."""
    spec, old_spec = _spec(new), old.get("spec") or {}

    def same(field: str) -> bool:
        return (spec.get(field) or None) == (old_spec.get(field) or None)

    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if same("clusterIP") and same("clusterIPs"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if same("ipFamilies"):
            spec.pop("ipFamilies", None)
        if same("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_ports(old) and not needs_node_ports(new) and _node_ports(new) == _node_ports(old):
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if (
        validation.needs_health_check(old)
        and not validation.needs_health_check(new)
        and same("healthCheckNodePort")
    ):
        spec.pop("healthCheckNodePort", None)
    was_lb = old_spec.get("type") == defaults.SERVICE_LOAD_BALANCER
    is_lb = spec.get("type") == defaults.SERVICE_LOAD_BALANCER
    if was_lb and not is_lb:
        if (
            spec.get("allocateLoadBalancerNodePorts") is not None
            and old_spec.get("allocateLoadBalancerNodePorts") is not None
            and same("allocateLoadBalancerNodePorts")
        ):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if same("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
        status = new.get("status")
        if isinstance(status, dict):
            status["loadBalancer"] = {}
    if (
        defaults.externally_accessible(old)
        and not defaults.externally_accessible(new)
        and same("externalTrafficPolicy")
    ):
        spec.pop("externalTrafficPolicy", None)


def init_ip_family_fields(svc: Obj, old: Obj | None) -> None:
    """initIPFamilyFields for this cluster: a policy and the families of the cluster IPs.

    Headless services without a selector default to RequireDualStack and list both families
    (their endpoints are whatever the user says); every other service defaults to SingleStack
    in the cluster's family.
    """
    spec = _spec(svc)
    if spec.get("type") == defaults.SERVICE_EXTERNAL_NAME:
        return
    if spec.get("ipFamilyPolicy") is None:
        old_policy = meta.get_path(old, "spec", "ipFamilyPolicy") if old is not None else None
        if old_policy is not None:
            spec["ipFamilyPolicy"] = old_policy
        elif spec.get("clusterIP") == validation.CLUSTER_IP_NONE and not spec.get("selector"):
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    families = list(spec.get("ipFamilies") or [])
    for i, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == validation.CLUSTER_IP_NONE:
            break
        if i >= len(families):
            families.append(validation.ip_family(ip))
    if spec.get("clusterIP") == validation.CLUSTER_IP_NONE and not spec.get("selector"):
        if not families:
            families = [CLUSTER_IP_FAMILIES[0]]
        if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families
        return
    if not families:
        families = [CLUSTER_IP_FAMILIES[0]]
    spec["ipFamilies"] = families


def cluster_family_errors(svc: Obj) -> list[FieldError]:
    """What initIPFamilyFields refuses on a single-stack cluster."""
    spec = svc.get("spec") or {}
    if spec.get("type") == defaults.SERVICE_EXTERNAL_NAME:
        return []
    if spec.get("clusterIP") == validation.CLUSTER_IP_NONE and not spec.get("selector"):
        return []
    errs: list[FieldError] = []
    policy = spec.get("ipFamilyPolicy")
    if policy == "RequireDualStack" and len(CLUSTER_IP_FAMILIES) < 2:
        errs.append(
            invalid(
                "spec.ipFamilyPolicy",
                policy,
                "this cluster is not configured for dual-stack services",
            )
        )
    errs += [
        invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster")
        for i, family in enumerate(spec.get("ipFamilies") or [])
        if family not in CLUSTER_IP_FAMILIES
    ]
    return errs
