"""The RBAC objects kube-apiserver 1.33 bootstraps: default roles, controller roles, bindings.

At every start kube-apiserver's `rbac/bootstrap-roles` post-start hook reconciles a fixed set of
ClusterRoles, ClusterRoleBindings, and Roles and RoleBindings in kube-system and kube-public:
a missing object is created, and one annotated `rbac.authorization.kubernetes.io/autoupdate:
"true"` gets back any rule or subject it lost. Without them nothing but `system:masters` could
do anything: no user could discover the API, no node could register, no controller could act.

The data is Kubernetes 1.33's `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`: `policy.go`
(the user-facing and component roles and their bindings), `controller_policy.go` (one
`system:controller:<name>` ClusterRole per kube-controller-manager controller, bound to the
ServiceAccount of that name in kube-system) and `namespace_policy.go`. The objects are those of
its golden files (`testdata/cluster-roles.yaml`, `controller-roles.yaml`,
`cluster-role-bindings.yaml`, `controller-role-bindings.yaml`, `namespace-roles.yaml`,
`namespace-role-bindings.yaml`), in their order: sorted by name, rules in source order. Rules
that Kubernetes puts behind a feature gate follow 1.33's defaults: on for KubeletFineGrainedAuthz
(beta), SELinuxChangePolicy (beta) and MultiCIDRServiceAllocator (GA); off for
DynamicResourceAllocation and VolumeAttributesClass (beta, off by default), ClusterTrustBundle
(beta, off) and the alpha gates.

The aggregated roles `admin`, `edit` and `view` have no rules of their own: the ClusterRole
aggregation controller fills them from the `system:aggregate-to-*` roles and any other role
carrying the same label. Each function returns new objects, which callers may change.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelite.api.types import Obj

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"

# rbacv1.AutoUpdateAnnotationKey, and bootstrappolicy.Label: every object carries both.
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING_LABEL = "kubernetes.io/bootstrapping"

AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

# bootstrappolicy's saRolePrefix: a controller's role is this plus its ServiceAccount's name.
CONTROLLER_ROLE_PREFIX = "system:controller:"
KUBE_SYSTEM = "kube-system"
KUBE_PUBLIC = "kube-public"

# API groups, named as bootstrappolicy names them.
CORE = ""
ADMISSIONREGISTRATION = "admissionregistration.k8s.io"
APPS = "apps"
AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
AUTOSCALING = "autoscaling"
BATCH = "batch"
CERTIFICATES = "certificates.k8s.io"
COORDINATION = "coordination.k8s.io"
CUSTOM_METRICS = "custom.metrics.k8s.io"
DISCOVERY = "discovery.k8s.io"
EVENTS = "events.k8s.io"
EXTENSIONS = "extensions"
EXTERNAL_METRICS = "external.metrics.k8s.io"
METRICS = "metrics.k8s.io"
NETWORKING = "networking.k8s.io"
NODE = "node.k8s.io"
POLICY = "policy"
STORAGE = "storage.k8s.io"

# The verb sets of policy.go.
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
READ_UPDATE = ("get", "list", "watch", "update", "patch")

# k8s.io/api/certificates/v1beta1's well-known signer names.
KUBE_APISERVER_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown"


def rule(
    verbs: Sequence[str],
    groups: Sequence[str],
    resources: Sequence[str],
    names: Sequence[str] = (),
) -> Obj:
    """A resource PolicyRule; like rbacv1helpers' `RuleOrDie`, every list comes out sorted."""
    built: Obj = {"apiGroups": sorted(groups), "resources": sorted(resources)}
    if names:
        built["resourceNames"] = sorted(names)
    built["verbs"] = sorted(verbs)
    return built


def url_rule(verbs: Sequence[str], urls: Sequence[str]) -> Obj:
    """A non-resource PolicyRule, for paths like `/healthz`."""
    return {"nonResourceURLs": sorted(urls), "verbs": sorted(verbs)}


def _events_rule() -> Obj:
    """controller_policy.go's `eventsRule`: record Events through either Events API."""
    return rule(["create", "update", "patch"], [CORE, EVENTS], ["events"])


def _metadata(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> Obj:
    """bootstrappolicy's `addDefaultMetadata`: its label and the autoupdate annotation."""
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = {**(labels or {}), BOOTSTRAPPING_LABEL: "rbac-defaults"}
    meta["annotations"] = {AUTOUPDATE_ANNOTATION: "true"}
    return meta


def _cluster_role(name: str, rules: list[Obj], *, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": _metadata(name, labels=labels),
        "rules": rules,
    }


def _aggregated_role(name: str, aggregate_from: str, labels: dict[str, str] | None = None) -> Obj:
    """A role whose rules are the union of those of the roles labelled `aggregate_from`."""
    role = _cluster_role(name, [], labels=labels)
    role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_from: "true"}}]}
    return role


def _role(namespace: str, name: str, rules: list[Obj]) -> Obj:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "Role",
        "metadata": _metadata(name, namespace),
        "rules": rules,
    }


def _user(name: str) -> Obj:
    return {"kind": "User", "apiGroup": RBAC_GROUP, "name": name}


def _group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": RBAC_GROUP, "name": name}


def _service_account(namespace: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _cluster_role_binding(name: str, subjects: list[Obj]) -> Obj:
    """A ClusterRoleBinding to the ClusterRole of the same name (rbacv1helpers' builder)."""
    binding: Obj = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(name),
    }
    # `subjects` is omitempty: the system:node binding has none and shows no key.
    if subjects:
        binding["subjects"] = subjects
    binding["roleRef"] = {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name}
    return binding


def _role_binding(namespace: str, name: str, role: str, subjects: list[Obj]) -> Obj:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": _metadata(name, namespace),
        "subjects": subjects,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role},
    }


def _by_name(objs: list[Obj]) -> list[Obj]:
    return sorted(objs, key=lambda obj: obj["metadata"]["name"])


def _node_rules() -> list[Obj]:
    """policy.go's `NodeRules`, for the kubelet; the Node authorizer narrows them per node.

    Left out by 1.33's defaults: resourceclaims and resourceslices (DynamicResourceAllocation),
    clustertrustbundles (ClusterTrustBundle), serviceaccounts (the alpha
    KubeletServiceAccountTokenForCredentialProviders).
    """
    return [
        rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
        rule(["create"], [AUTHORIZATION], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [CORE], ["services"]),
        rule(["create", "get", "list", "watch"], [CORE], ["nodes"]),
        rule(["update", "patch"], [CORE], ["nodes/status"]),
        rule(["update", "patch"], [CORE], ["nodes"]),
        rule(["create", "update", "patch"], [CORE], ["events"]),
        rule(READ, [CORE], ["pods"]),
        rule(["create", "delete"], [CORE], ["pods"]),
        rule(["update", "patch"], [CORE], ["pods/status"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(["get", "list", "watch"], [CORE], ["secrets", "configmaps"]),
        rule(["get"], [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["get"], [CORE], ["endpoints"]),
        rule(["create", "get", "list", "watch"], [CERTIFICATES], ["certificatesigningrequests"]),
        rule(["get", "create", "update", "patch", "delete"], [COORDINATION], ["leases"]),
        rule(["get"], [STORAGE], ["volumeattachments"]),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(["get", "update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
        rule(["get", "watch", "list"], [STORAGE], ["csidrivers"]),
        rule(["get", "create", "update", "patch", "delete"], [STORAGE], ["csinodes"]),
        rule(["get", "list", "watch"], [NODE], ["runtimeclasses"]),
    ]


def _aggregate_to_edit_rules() -> list[Obj]:
    """What `edit` (and so `admin`) may do in a namespace, beyond what `view` may."""
    return [
        # Read access to resources that can escalate (exec, secrets, proxies).
        rule(
            READ,
            [CORE],
            [
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(["impersonate"], [CORE], ["serviceaccounts"]),
        rule(WRITE, [CORE], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(
            WRITE,
            [CORE],
            [
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
                "events",
            ],
        ),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(
            WRITE,
            [APPS],
            [
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, [AUTOSCALING], ["horizontalpodautoscalers"]),
        rule(WRITE, [BATCH], ["jobs", "cronjobs"]),
        rule(
            WRITE,
            [EXTENSIONS],
            [
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(WRITE, [POLICY], ["poddisruptionbudgets"]),
        rule(WRITE, [NETWORKING], ["networkpolicies", "ingresses"]),
        rule(READ_WRITE, [COORDINATION], ["leases"]),
    ]


def _aggregate_to_view_rules() -> list[Obj]:
    """Read access to a namespace's objects, except those that can escalate (secrets, exec)."""
    return [
        rule(
            READ,
            [CORE],
            [
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        rule(
            READ,
            [CORE],
            [
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        # Reading namespaces at namespace scope reads *this* namespace: a way for a user to
        # learn which namespaces they have access to.
        rule(READ, [CORE], ["namespaces"]),
        rule(READ, [DISCOVERY], ["endpointslices"]),
        rule(
            READ,
            [APPS],
            [
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        rule(READ, [AUTOSCALING], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, [BATCH], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(
            READ,
            [EXTENSIONS],
            [
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(READ, [POLICY], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, [NETWORKING], ["networkpolicies", "ingresses", "ingresses/status"]),
    ]


def _kube_scheduler_rules() -> list[Obj]:
    """kube-scheduler's own identity.

    Left out by 1.33's defaults: the resource.k8s.io rules (DynamicResourceAllocation).
    """
    return [
        _events_rule(),
        # Leader election.
        rule(["create"], [COORDINATION], ["leases"]),
        rule(["get", "update", "list", "watch"], [COORDINATION], ["leases"], ["kube-scheduler"]),
        rule(READ_WRITE, [COORDINATION], ["leasecandidates"]),
        rule(READ, [CORE], ["nodes"]),
        rule(["get", "list", "watch", "delete"], [CORE], ["pods"]),
        rule(["create"], [CORE], ["pods/binding", "bindings"]),
        rule(["patch", "update"], [CORE], ["pods/status"]),
        # Things that select pods, for spreading.
        rule(READ, [CORE], ["services", "replicationcontrollers"]),
        rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
        rule(READ, [APPS], ["statefulsets"]),
        rule(READ, [POLICY], ["poddisruptionbudgets"]),
        rule(READ, [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
        rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
        # Volume limits.
        rule(READ, [STORAGE], ["csinodes"]),
        rule(["get", "list", "watch"], [STORAGE], ["volumeattachments"]),
        # namespaceSelector of pod affinity.
        rule(READ, [CORE], ["namespaces"]),
        rule(READ, [STORAGE], ["csidrivers"]),
        rule(READ, [STORAGE], ["csistoragecapacities"]),
    ]


def _policy_roles() -> list[Obj]:
    """policy.go's `ClusterRoles`.

    Left out by 1.33's defaults: system:cluster-trust-bundle-discovery (ClusterTrustBundle).
    """
    approver = "system:certificates.k8s.io:{}-approver"
    return [
        # A root role, which can do absolutely anything.
        _cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
        # Just enough to tell whether the server is ready and to discover API versions.
        _cluster_role(
            "system:discovery",
            [
                url_rule(
                    ["get"],
                    [
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/version",
                        "/version/",
                        "/openapi",
                        "/openapi/*",
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                    ],
                )
            ],
        ),
        # The monitoring endpoints; the splatted health checks name individual checks, which
        # may say more about the cluster.
        _cluster_role(
            "system:monitoring",
            [
                url_rule(
                    ["get"],
                    [
                        "/metrics",
                        "/metrics/slis",
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/livez/*",
                        "/readyz/*",
                        "/healthz/*",
                    ],
                )
            ],
        ),
        # What any user may learn about themselves.
        _cluster_role(
            "system:basic-user",
            [
                rule(
                    ["create"],
                    [AUTHORIZATION],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(["create"], [AUTHENTICATION], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [url_rule(["get"], ["/livez", "/readyz", "/healthz", "/version", "/version/"])],
        ),
        # A namespace's administrator: `edit` plus granting roles within the namespace.
        _aggregated_role("admin", AGGREGATE_TO_ADMIN),
        # Every user-level action in a namespace, but not the namespace's own controls
        # (status subresources, quotas, limits) nor RBAC.
        _aggregated_role("edit", AGGREGATE_TO_EDIT, {AGGREGATE_TO_ADMIN: "true"}),
        _aggregated_role("view", AGGREGATE_TO_VIEW, {AGGREGATE_TO_EDIT: "true"}),
        _cluster_role(
            "system:aggregate-to-admin",
            [
                rule(["create"], [AUTHORIZATION], ["localsubjectaccessreviews"]),
                rule(READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
            ],
            labels={AGGREGATE_TO_ADMIN: "true"},
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            _aggregate_to_edit_rules(),
            labels={AGGREGATE_TO_EDIT: "true"},
        ),
        _cluster_role(
            "system:aggregate-to-view",
            _aggregate_to_view_rules(),
            labels={AGGREGATE_TO_VIEW: "true"},
        ),
        _cluster_role(
            "system:heapster",
            [
                rule(READ, [CORE], ["events", "pods", "nodes", "namespaces"]),
                rule(READ, [EXTENSIONS], ["deployments"]),
            ],
        ),
        _cluster_role("system:node", _node_rules()),
        # Not bound by default: where node-problem-detector runs varies.
        _cluster_role(
            "system:node-problem-detector",
            [
                rule(["get"], [CORE], ["nodes"]),
                rule(["patch"], [CORE], ["nodes/status"]),
                _events_rule(),
            ],
        ),
        # A node's bootstrap credentials: ask for a client certificate and watch it come.
        _cluster_role(
            "system:node-bootstrapper",
            [
                rule(
                    ["create", "get", "list", "watch"],
                    [CERTIFICATES],
                    ["certificatesigningrequests"],
                )
            ],
        ),
        # Delegated authentication and authorization (both creates are non-mutating).
        _cluster_role(
            "system:auth-delegator",
            [
                rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
            ],
        ),
        # The aggregator must see every Service, to know whether an APIService's exists.
        _cluster_role("system:kube-aggregator", [rule(READ, [CORE], ["services", "endpoints"])]),
        # kube-controller-manager's own identity: its shared informers, and creating the
        # ServiceAccounts and tokens that give each controller its own identity.
        _cluster_role(
            "system:kube-controller-manager",
            [
                _events_rule(),
                rule(["create"], [COORDINATION], ["leases"]),
                rule(["get", "update"], [COORDINATION], ["leases"], ["kube-controller-manager"]),
                rule(["create"], [CORE], ["secrets", "serviceaccounts"]),
                rule(["delete"], [CORE], ["secrets"]),
                rule(["get"], [CORE], ["namespaces", "secrets", "serviceaccounts", "configmaps"]),
                rule(["update"], [CORE], ["secrets", "serviceaccounts"]),
                rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
                rule(["list", "watch"], ["*"], ["*"]),
                rule(["create"], [CORE], ["serviceaccounts/token"]),
            ],
        ),
        _cluster_role(
            "system:kube-dns", [rule(["list", "watch"], [CORE], ["endpoints", "services"])]
        ),
        # An out-of-tree persistent volume provisioner.
        _cluster_role(
            "system:persistent-volume-provisioner",
            [
                rule(["get", "list", "watch", "create", "delete"], [CORE], ["persistentvolumes"]),
                # update, to set lock annotations on claims.
                rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
                rule(READ, [STORAGE], ["storageclasses"]),
                # To watch for provisioning success and failure Events.
                rule(["watch"], [CORE], ["events"]),
                _events_rule(),
            ],
        ),
        # The csrapprover controller approves a node client CSR for requesters holding this.
        _cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [rule(["create"], [CERTIFICATES], ["certificatesigningrequests/nodeclient"])],
        ),
        # ... and one that a node requests for itself.
        _cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [rule(["create"], [CERTIFICATES], ["certificatesigningrequests/selfnodeclient"])],
        ),
        _cluster_role(
            "system:volume-scheduler",
            [
                rule(READ_UPDATE, [CORE], ["persistentvolumes"]),
                rule(READ, [STORAGE], ["storageclasses"]),
                rule(READ_UPDATE, [CORE], ["persistentvolumeclaims"]),
            ],
        ),
        _cluster_role(
            approver.format("legacy-unknown"),
            [rule(["approve"], [CERTIFICATES], ["signers"], [LEGACY_UNKNOWN_SIGNER])],
        ),
        _cluster_role(
            approver.format("kubelet-serving"),
            [rule(["approve"], [CERTIFICATES], ["signers"], [KUBELET_SERVING_SIGNER])],
        ),
        _cluster_role(
            approver.format("kube-apiserver-client"),
            [rule(["approve"], [CERTIFICATES], ["signers"], [KUBE_APISERVER_CLIENT_SIGNER])],
        ),
        _cluster_role(
            approver.format("kube-apiserver-client-kubelet"),
            [
                rule(
                    ["approve"], [CERTIFICATES], ["signers"], [KUBE_APISERVER_CLIENT_KUBELET_SIGNER]
                )
            ],
        ),
        # The ServiceAccount issuer discovery documents; the slash-ended forms are for clients
        # generated from OpenAPI documents published before the trailing slash was fixed.
        _cluster_role(
            "system:service-account-issuer-discovery",
            [
                url_rule(
                    ["get"],
                    [
                        "/.well-known/openid-configuration",
                        "/.well-known/openid-configuration/",
                        "/openid/v1/jwks",
                        "/openid/v1/jwks/",
                    ],
                )
            ],
        ),
        # Full access to the kubelet's API; the last rule is KubeletFineGrainedAuthz's.
        _cluster_role(
            "system:kubelet-api-admin",
            [
                rule(["get", "list", "watch"], [CORE], ["nodes"]),
                rule(["proxy"], [CORE], ["nodes"]),
                rule(["*"], [CORE], ["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"]),
                rule(["*"], [CORE], ["nodes/pods", "nodes/healthz", "nodes/configz"]),
            ],
        ),
        # kube-proxy; servicecidrs is MultiCIDRServiceAllocator's.
        _cluster_role(
            "system:node-proxier",
            [
                rule(["list", "watch"], [CORE], ["services", "endpoints"]),
                rule(["get", "list", "watch"], [CORE], ["nodes"]),
                _events_rule(),
                rule(["list", "watch"], [NETWORKING], ["servicecidrs"]),
                rule(["list", "watch"], [DISCOVERY], ["endpointslices"]),
            ],
        ),
        _cluster_role("system:kube-scheduler", _kube_scheduler_rules()),
    ]


def _policy_role_bindings() -> list[Obj]:
    """policy.go's `ClusterRoleBindings`."""
    return [
        _cluster_role_binding("cluster-admin", [_group("system:masters")]),
        _cluster_role_binding("system:monitoring", [_group("system:monitoring")]),
        _cluster_role_binding("system:discovery", [_group("system:authenticated")]),
        _cluster_role_binding("system:basic-user", [_group("system:authenticated")]),
        _cluster_role_binding(
            "system:public-info-viewer",
            [_group("system:authenticated"), _group("system:unauthenticated")],
        ),
        _cluster_role_binding("system:node-proxier", [_user("system:kube-proxy")]),
        _cluster_role_binding(
            "system:kube-controller-manager", [_user("system:kube-controller-manager")]
        ),
        _cluster_role_binding("system:kube-dns", [_service_account(KUBE_SYSTEM, "kube-dns")]),
        _cluster_role_binding("system:kube-scheduler", [_user("system:kube-scheduler")]),
        _cluster_role_binding("system:volume-scheduler", [_user("system:kube-scheduler")]),
        # Binding system:node to the system:nodes group was deprecated in 1.7, when the Node
        # authorizer came: the binding stays, with no subjects, so that reconciliation removes
        # the group from clusters that had it.
        _cluster_role_binding("system:node", []),
        # Every in-cluster workload may read the OIDC discovery documents, which say what
        # issued its own token.
        _cluster_role_binding(
            "system:service-account-issuer-discovery", [_group("system:serviceaccounts")]
        ),
    ]


def _controller(name: str, rules: list[Obj]) -> Obj:
    return _cluster_role(CONTROLLER_ROLE_PREFIX + name, rules)


def _controller_roles() -> list[Obj]:
    """controller_policy.go's `ControllerRoles`.

    Left out by 1.33's defaults: resource-claim-controller and device-taint-eviction-controller
    (DynamicResourceAllocation), volumeattributesclass-protection-controller
    (VolumeAttributesClass), kube-apiserver-serving-clustertrustbundle-publisher
    (ClusterTrustBundle), storage-version-garbage-collector and
    storage-version-migrator-controller (alpha gates).
    """
    return [
        _controller(
            "attachdetach-controller",
            [
                rule(["list", "watch"], [CORE], ["persistentvolumes", "persistentvolumeclaims"]),
                rule(["get", "list", "watch"], [CORE], ["nodes"]),
                rule(["patch", "update"], [CORE], ["nodes/status"]),
                rule(["list", "watch"], [CORE], ["pods"]),
                _events_rule(),
                rule(
                    ["get", "create", "delete", "list", "watch"], [STORAGE], ["volumeattachments"]
                ),
                rule(["get", "watch", "list"], [STORAGE], ["csidrivers"]),
                rule(["get", "watch", "list"], [STORAGE], ["csinodes"]),
            ],
        ),
        # Must be able to change any ClusterRole in any way.
        _controller(
            "clusterrole-aggregation-controller",
            [
                rule(
                    ["escalate", "get", "list", "watch", "update", "patch"],
                    [RBAC_GROUP],
                    ["clusterroles"],
                )
            ],
        ),
        _controller(
            "cronjob-controller",
            [
                rule(["get", "list", "watch", "update"], [BATCH], ["cronjobs"]),
                rule(
                    ["get", "list", "watch", "create", "update", "delete", "patch"],
                    [BATCH],
                    ["jobs"],
                ),
                rule(["update"], [BATCH], ["cronjobs/status"]),
                rule(["update"], [BATCH], ["cronjobs/finalizers"]),
                rule(["list", "watch", "delete"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        _controller(
            "daemon-set-controller",
            [
                rule(READ, [EXTENSIONS, APPS], ["daemonsets"]),
                rule(["update"], [EXTENSIONS, APPS], ["daemonsets/status"]),
                rule(["update"], [EXTENSIONS, APPS], ["daemonsets/finalizers"]),
                rule(["list", "watch"], [CORE], ["nodes"]),
                rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
                rule(["create"], [CORE], ["pods/binding"]),
                rule(
                    ["get", "list", "watch", "create", "delete", "update", "patch"],
                    [APPS],
                    ["controllerrevisions"],
                ),
                _events_rule(),
            ],
        ),
        _controller(
            "deployment-controller",
            [
                rule(["get", "list", "watch", "update"], [EXTENSIONS, APPS], ["deployments"]),
                rule(["update"], [EXTENSIONS, APPS], ["deployments/status"]),
                rule(["update"], [EXTENSIONS, APPS], ["deployments/finalizers"]),
                rule(
                    ["get", "list", "watch", "create", "update", "patch", "delete"],
                    [APPS, EXTENSIONS],
                    ["replicasets"],
                ),
                # update: until kubernetes/kubernetes#36897 is resolved.
                rule(["get", "list", "watch", "update"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        _controller(
            "disruption-controller",
            [
                rule(READ, [EXTENSIONS, APPS], ["deployments"]),
                rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
                rule(READ, [CORE], ["replicationcontrollers"]),
                rule(READ, [POLICY], ["poddisruptionbudgets"]),
                rule(READ, [APPS], ["statefulsets"]),
                rule(["update"], [POLICY], ["poddisruptionbudgets/status"]),
                rule(["patch", "update"], [CORE], ["pods/status"]),
                rule(["get"], ["*"], ["*/scale"]),
                _events_rule(),
            ],
        ),
        _controller(
            "endpoint-controller",
            [
                rule(READ, [CORE], ["services", "pods"]),
                rule(["get", "list", "watch", "create", "update", "delete"], [CORE], ["endpoints"]),
                rule(["create"], [CORE], ["endpoints/restricted"]),
                _events_rule(),
            ],
        ),
        # Setting a Service's (or an Endpoints') finalizers lets the controller own its slices
        # with blockOwnerDeletion.
        _controller(
            "endpointslice-controller",
            [
                rule(READ, [CORE], ["services", "pods", "nodes"]),
                rule(["update"], [CORE], ["services/finalizers"]),
                rule(
                    ["get", "list", "watch", "create", "update", "delete"],
                    [DISCOVERY],
                    ["endpointslices"],
                ),
                _events_rule(),
            ],
        ),
        _controller(
            "endpointslicemirroring-controller",
            [
                rule(READ, [CORE], ["services", "endpoints"]),
                rule(["update"], [CORE], ["services/finalizers"]),
                rule(["update"], [CORE], ["endpoints/finalizers"]),
                rule(
                    ["get", "list", "watch", "create", "update", "delete"],
                    [DISCOVERY],
                    ["endpointslices"],
                ),
                _events_rule(),
            ],
        ),
        _controller(
            "expand-controller",
            [
                rule(["get", "list", "watch", "update", "patch"], [CORE], ["persistentvolumes"]),
                rule(["update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
                rule(READ, [CORE], ["persistentvolumeclaims"]),
                _events_rule(),
                # The portworx volume plugin.
                rule(["get"], [CORE], ["services"]),
            ],
        ),
        _controller(
            "ephemeral-volume-controller",
            [
                rule(READ, [CORE], ["pods"]),
                rule(["update"], [CORE], ["pods/finalizers"]),
                rule(["get", "list", "watch", "create"], [CORE], ["persistentvolumeclaims"]),
                _events_rule(),
            ],
        ),
        # List, watch, read, update and delete anything, to follow owner references.
        _controller(
            "generic-garbage-collector",
            [
                rule(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]),
                _events_rule(),
            ],
        ),
        _controller(
            "horizontal-pod-autoscaler",
            [
                rule(READ, [AUTOSCALING], ["horizontalpodautoscalers"]),
                rule(["update"], [AUTOSCALING], ["horizontalpodautoscalers/status"]),
                rule(["get", "update"], ["*"], ["*/scale"]),
                rule(["list", "watch"], [CORE], ["pods"]),
                # Resource, custom and external metrics.
                rule(["list", "watch"], [METRICS], ["pods"]),
                rule(READ, [CUSTOM_METRICS], ["*"]),
                rule(READ, [EXTERNAL_METRICS], ["*"]),
                _events_rule(),
            ],
        ),
        _controller(
            "job-controller",
            [
                rule(["get", "list", "watch", "update", "patch"], [BATCH], ["jobs"]),
                rule(["update"], [BATCH], ["jobs/status"]),
                rule(["update"], [BATCH], ["jobs/finalizers"]),
                rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        # The namespace controller deletes everything in a namespace being deleted.
        _controller(
            "namespace-controller",
            [
                rule(["get", "list", "watch", "delete"], [CORE], ["namespaces"]),
                rule(["update"], [CORE], ["namespaces/finalize", "namespaces/status"]),
                rule(["get", "list", "watch", "delete", "deletecollection"], ["*"], ["*"]),
            ],
        ),
        _controller(
            "node-controller",
            [
                rule(["get", "list", "watch", "update", "delete", "patch"], [CORE], ["nodes"]),
                rule(["patch", "update"], [CORE], ["nodes/status"]),
                # To delete pods (their status first).
                rule(["patch", "update"], [CORE], ["pods/status"]),
                rule(["list", "watch", "get", "delete"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        _controller(
            "persistent-volume-binder",
            [
                rule(
                    ["get", "list", "watch", "update", "create", "delete"],
                    [CORE],
                    ["persistentvolumes"],
                ),
                rule(["update"], [CORE], ["persistentvolumes/status"]),
                rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
                rule(["update"], [CORE], ["persistentvolumeclaims/status"]),
                rule(["list", "watch", "get", "create", "delete"], [CORE], ["pods"]),
                rule(READ, [STORAGE], ["storageclasses"]),
                rule(["list", "watch"], [CORE], ["nodes"]),
                _events_rule(),
                # recyclerClient.WatchPod.
                rule(["watch"], [CORE], ["events"]),
                # The portworx volume plugin.
                rule(["get"], [CORE], ["services"]),
            ],
        ),
        _controller(
            "pod-garbage-collector",
            [
                rule(["list", "watch", "delete"], [CORE], ["pods"]),
                rule(READ, [CORE], ["nodes"]),
                rule(["patch"], [CORE], ["pods/status"]),
            ],
        ),
        _controller(
            "replicaset-controller",
            [
                rule(["get", "list", "watch", "update"], [APPS, EXTENSIONS], ["replicasets"]),
                rule(["update"], [APPS, EXTENSIONS], ["replicasets/status"]),
                rule(["update"], [APPS, EXTENSIONS], ["replicasets/finalizers"]),
                rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        # get and update on the controllers themselves: 1.0 controllers break without them.
        _controller(
            "replication-controller",
            [
                rule(["get", "list", "watch", "update"], [CORE], ["replicationcontrollers"]),
                rule(["update"], [CORE], ["replicationcontrollers/status"]),
                rule(["update"], [CORE], ["replicationcontrollers/finalizers"]),
                rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        # Quota counts anything, so it watches everything.
        _controller(
            "resourcequota-controller",
            [
                rule(["list", "watch"], ["*"], ["*"]),
                rule(["update"], [CORE], ["resourcequotas/status"]),
                _events_rule(),
            ],
        ),
        _controller(
            "route-controller",
            [
                rule(["list", "watch"], [CORE], ["nodes"]),
                rule(["patch"], [CORE], ["nodes/status"]),
                _events_rule(),
            ],
        ),
        _controller(
            "service-account-controller",
            [rule(["create"], [CORE], ["serviceaccounts"]), _events_rule()],
        ),
        _controller(
            "service-controller",
            [
                rule(READ, [CORE], ["services"]),
                rule(["patch", "update"], [CORE], ["services/status"]),
                rule(["list", "watch"], [CORE], ["nodes"]),
                _events_rule(),
            ],
        ),
        # MultiCIDRServiceAllocator's, GA in 1.33.
        _controller(
            "service-cidrs-controller",
            [
                rule(["get", "list", "watch", "patch", "update"], [NETWORKING], ["servicecidrs"]),
                rule(["patch", "update"], [NETWORKING], ["servicecidrs/finalizers"]),
                rule(["patch", "update"], [NETWORKING], ["servicecidrs/status"]),
                rule(READ, [NETWORKING], ["ipaddresses"]),
                _events_rule(),
            ],
        ),
        _controller(
            "statefulset-controller",
            [
                rule(["list", "watch"], [CORE], ["pods"]),
                rule(READ, [APPS], ["statefulsets"]),
                rule(["update"], [APPS], ["statefulsets/status"]),
                rule(["update"], [APPS], ["statefulsets/finalizers"]),
                rule(["get", "create", "delete", "update", "patch"], [CORE], ["pods"]),
                rule(
                    ["get", "create", "delete", "update", "patch", "list", "watch"],
                    [APPS],
                    ["controllerrevisions"],
                ),
                rule(["get", "create", "list", "watch"], [CORE], ["persistentvolumeclaims"]),
                _events_rule(),
                # persistentVolumeClaimRetentionPolicy: claims owned by, and deleted with, pods.
                rule(["update", "delete"], [CORE], ["persistentvolumeclaims"]),
                rule(["update"], [CORE], ["pods/finalizers"]),
            ],
        ),
        _controller(
            "ttl-controller",
            [rule(["update", "patch", "list", "watch"], [CORE], ["nodes"]), _events_rule()],
        ),
        _controller(
            "certificate-controller",
            [
                rule(
                    ["get", "list", "watch", "delete"],
                    [CERTIFICATES],
                    ["certificatesigningrequests"],
                ),
                rule(
                    ["update"],
                    [CERTIFICATES],
                    ["certificatesigningrequests/status", "certificatesigningrequests/approval"],
                ),
                rule(
                    ["approve"], [CERTIFICATES], ["signers"], [KUBE_APISERVER_CLIENT_KUBELET_SIGNER]
                ),
                rule(
                    ["sign"],
                    [CERTIFICATES],
                    ["signers"],
                    [
                        LEGACY_UNKNOWN_SIGNER,
                        KUBE_APISERVER_CLIENT_SIGNER,
                        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
                        KUBELET_SERVING_SIGNER,
                    ],
                ),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
                _events_rule(),
            ],
        ),
        _controller(
            "pvc-protection-controller",
            [
                rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
                rule(["list", "watch", "get"], [CORE], ["pods"]),
                _events_rule(),
            ],
        ),
        _controller(
            "pv-protection-controller",
            [
                rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumes"]),
                _events_rule(),
            ],
        ),
        _controller(
            "ttl-after-finished-controller",
            [rule(["get", "list", "watch", "delete"], [BATCH], ["jobs"]), _events_rule()],
        ),
        _controller(
            "root-ca-cert-publisher",
            [rule(["create", "update"], [CORE], ["configmaps"]), _events_rule()],
        ),
        _controller(
            "validatingadmissionpolicy-status-controller",
            [
                rule(READ, [ADMISSIONREGISTRATION], ["validatingadmissionpolicies"]),
                rule(
                    ["get", "patch", "update"],
                    [ADMISSIONREGISTRATION],
                    ["validatingadmissionpolicies/status"],
                ),
                _events_rule(),
            ],
        ),
        # Deletes the legacy (Secret-based) ServiceAccount tokens that have gone unused,
        # once kube-apiserver's tracking ConfigMap says since when it has been tracking.
        _controller(
            "legacy-service-account-token-cleaner",
            [
                rule(
                    ["get"],
                    [CORE],
                    ["configmaps"],
                    ["kube-apiserver-legacy-service-account-token-tracking"],
                ),
                rule(["patch", "delete"], [CORE], ["secrets"]),
            ],
        ),
        # SELinuxChangePolicy's, beta and on in 1.33.
        _controller(
            "selinux-warning-controller",
            [
                _events_rule(),
                rule(READ, [CORE], ["persistentvolumes"]),
                rule(READ, [CORE], ["persistentvolumeclaims"]),
                rule(READ, [CORE], ["pods"]),
                rule(READ, [STORAGE], ["csidrivers"]),
            ],
        ),
    ]


def _controller_role_bindings() -> list[Obj]:
    """controller_policy.go's `addControllerRole`: each role to its kube-system ServiceAccount."""
    bindings = []
    for role in _controller_roles():
        name = role["metadata"]["name"]
        account = name.removeprefix(CONTROLLER_ROLE_PREFIX)
        bindings.append(_cluster_role_binding(name, [_service_account(KUBE_SYSTEM, account)]))
    return bindings


def _namespace_roles() -> list[Obj]:
    """namespace_policy.go's roles, in kube-system and kube-public."""
    return [
        # The ConfigMap holding the authentication configuration of the cluster, for servers
        # (aggregated API servers, kube-controller-manager, kube-scheduler) to start with.
        _role(
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            [rule(READ, [CORE], ["configmaps"], ["extension-apiserver-authentication"])],
        ),
        # The bootstrap signer reads the bootstrap token Secrets.
        _role(
            KUBE_SYSTEM,
            CONTROLLER_ROLE_PREFIX + "bootstrap-signer",
            [rule(READ, [CORE], ["secrets"])],
        ),
        # Deprecated since Kubernetes 1.10.
        _role(
            KUBE_SYSTEM,
            CONTROLLER_ROLE_PREFIX + "cloud-provider",
            [rule(["create", "get", "list", "watch"], [CORE], ["configmaps"])],
        ),
        # The token cleaner removes expired bootstrap tokens, only in kube-system.
        _role(
            KUBE_SYSTEM,
            CONTROLLER_ROLE_PREFIX + "token-cleaner",
            [rule(["get", "list", "watch", "delete"], [CORE], ["secrets"]), _events_rule()],
        ),
        _leader_locking_role("kube-controller-manager"),
        _leader_locking_role("kube-scheduler"),
        # The bootstrap signer signs the cluster-info ConfigMap.
        _role(
            KUBE_PUBLIC,
            CONTROLLER_ROLE_PREFIX + "bootstrap-signer",
            [
                rule(READ, [CORE], ["configmaps"]),
                rule(["update"], [CORE], ["configmaps"], ["cluster-info"]),
                _events_rule(),
            ],
        ),
    ]


def _leader_locking_role(component: str) -> Obj:
    """Leader election in kube-system: the component's ConfigMap lock of old, its Lease, and
    the LeaseCandidates of coordinated leader election."""
    return _role(
        KUBE_SYSTEM,
        f"system::leader-locking-{component}",
        [
            rule(["watch"], [CORE], ["configmaps"]),
            rule(["get", "update"], [CORE], ["configmaps"], [component]),
            rule(["get", "watch", "list", "create", "update"], [COORDINATION], ["leases"]),
            rule(["get", "watch", "list", "create", "update"], [COORDINATION], ["leasecandidates"]),
        ],
    )


def _namespace_role_bindings() -> list[Obj]:
    """namespace_policy.go's role bindings."""

    def controller(namespace: str, name: str) -> Obj:
        role = CONTROLLER_ROLE_PREFIX + name
        return _role_binding(namespace, role, role, [_service_account(KUBE_SYSTEM, name)])

    def leader_locking(component: str, *accounts: str) -> Obj:
        role = f"system::leader-locking-{component}"
        subjects = [_user(f"system:{component}")]
        subjects += [_service_account(KUBE_SYSTEM, account) for account in accounts]
        return _role_binding(KUBE_SYSTEM, role, role, subjects)

    return [
        _role_binding(
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            [_user("system:kube-controller-manager"), _user("system:kube-scheduler")],
        ),
        # leader-election-controller is kube-controller-manager's coordinated leader election.
        leader_locking(
            "kube-controller-manager", "kube-controller-manager", "leader-election-controller"
        ),
        leader_locking("kube-scheduler", "kube-scheduler"),
        controller(KUBE_SYSTEM, "bootstrap-signer"),
        controller(KUBE_SYSTEM, "cloud-provider"),
        controller(KUBE_SYSTEM, "token-cleaner"),
        controller(KUBE_PUBLIC, "bootstrap-signer"),
    ]


def _by_namespace(objs: list[Obj]) -> dict[str, list[Obj]]:
    grouped: dict[str, list[Obj]] = {}
    for obj in sorted(objs, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"])):
        grouped.setdefault(obj["metadata"]["namespace"], []).append(obj)
    return grouped


def cluster_roles() -> list[Obj]:
    """Every bootstrap ClusterRole: those of policy.go, then the controllers' roles."""
    return _by_name(_policy_roles()) + _by_name(_controller_roles())


def cluster_role_bindings() -> list[Obj]:
    """Every bootstrap ClusterRoleBinding: those of policy.go, then the controllers'."""
    return _by_name(_policy_role_bindings()) + _by_name(_controller_role_bindings())


def namespace_roles() -> dict[str, list[Obj]]:
    """The bootstrap Roles, by namespace (kube-public, kube-system)."""
    return _by_namespace(_namespace_roles())


def namespace_role_bindings() -> dict[str, list[Obj]]:
    """The bootstrap RoleBindings, by namespace (kube-public, kube-system)."""
    return _by_namespace(_namespace_role_bindings())


# --- kubelite's own defaults beside Kubernetes' ---------------------------------------------

SERVICELB_ROLE = "system:kubelite:servicelb"
# The ServiceLB controller's account (controllers/servicelb.py's SERVICELB_ACCOUNT).
SERVICELB_ACCOUNT = "servicelb-controller"


# The cluster DNS's role, under the name and with the rules kubeadm's and k3s' CoreDNS
# manifests give it, and the user its client certificate names (`kubelite server` issues it).
CLUSTER_DNS_ROLE = "system:coredns"
CLUSTER_DNS_USER = "system:kubelite:cluster-dns"


def kubelite_cluster_roles() -> list[Obj]:
    """The roles of what kubelite runs beside Kubernetes' components: the ServiceLB
    controller (k3s runs it in its supervisor; here it is a controller of the manager with an
    account of its own) and the cluster DNS (CoreDNS's role: it lists and watches the objects
    names are made of)."""
    return [
        _cluster_role(
            CLUSTER_DNS_ROLE,
            [
                rule(["list", "watch"], [CORE], ["endpoints", "namespaces", "pods", "services"]),
                rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
            ],
        ),
        _cluster_role(
            SERVICELB_ROLE,
            [
                rule(["update"], [CORE], ["services/status"]),
                rule(READ, [CORE], ["nodes", "services"]),
                _events_rule(),
            ],
        ),
    ]


def kubelite_cluster_role_bindings() -> list[Obj]:
    """The ServiceLB controller's account and the cluster DNS's user, bound to their roles."""
    return [
        _cluster_role_binding(CLUSTER_DNS_ROLE, [_user(CLUSTER_DNS_USER)]),
        _cluster_role_binding(SERVICELB_ROLE, [_service_account(KUBE_SYSTEM, SERVICELB_ACCOUNT)]),
    ]
