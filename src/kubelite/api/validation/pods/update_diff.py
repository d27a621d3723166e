"""The go-cmp diff Kubernetes appends to a refused pod update.

When a pod update changes a field it may not, Kubernetes appends `cmp.Diff(oldSpec, newSpec)`
(github.com/google/go-cmp) of its internal `core.PodSpec` to the error. The specs are turned
into a model of those Go values (field order, Go field names, types, the host namespace flags
moved into the security context as Kubernetes' internal version has them) and printed as
go-cmp's reporter prints them: two records of context around each change, runs of equal
fields folded into `... // N identical fields`, types only on changed lines. go-cmp documents
its output as unstable (it even switches between ordinary and non-breaking spaces at random),
so this is faithful in shape, not promised byte for byte.

This is printing, not validation: `update` asks `go_pod_spec` for the Go model of both
specs, compares them with `semantic_equal`, and appends `render_spec_diff`'s text.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.api.validation.pods.fields import _quantity


@dataclass(frozen=True)
class _GoStruct:
    type: str
    fields: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class _GoSlice:
    type: str
    items: tuple[Any, ...] | None  # None is a nil slice


@dataclass(frozen=True)
class _GoMap:
    type: str
    entries: tuple[tuple[str, Any], ...] | None  # keys already printed as go-cmp prints them


@dataclass(frozen=True)
class _GoPtr:
    target: Any  # None is a nil pointer


@dataclass(frozen=True)
class _GoLeaf:
    text: str
    zero: bool


@dataclass(frozen=True)
class _GoQuantity:
    quantity: Quantity


# Field order of Kubernetes 1.33's internal types (pkg/apis/core/types.go): (JSON name, Go name,
# type). `embed:` marks an embedded struct whose fields are inline in JSON.
_S, _I, _B = "string", "int", "bool"
_LOCAL_REF = ("", "LocalObjectReference", "embed:core.LocalObjectReference")
_GO_TYPES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "core.PodSpec": (
        ("volumes", "Volumes", "[]core.Volume"),
        ("initContainers", "InitContainers", "[]core.Container"),
        ("containers", "Containers", "[]core.Container"),
        ("ephemeralContainers", "EphemeralContainers", "[]core.EphemeralContainer"),
        ("restartPolicy", "RestartPolicy", _S),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "*int"),
        ("activeDeadlineSeconds", "ActiveDeadlineSeconds", "*int"),
        ("dnsPolicy", "DNSPolicy", _S),
        ("nodeSelector", "NodeSelector", "map[string]string"),
        ("serviceAccountName", "ServiceAccountName", _S),
        ("automountServiceAccountToken", "AutomountServiceAccountToken", "*bool"),
        ("nodeName", "NodeName", _S),
        ("securityContext", "SecurityContext", "*core.PodSecurityContext"),
        ("imagePullSecrets", "ImagePullSecrets", "[]core.LocalObjectReference"),
        ("hostname", "Hostname", _S),
        ("subdomain", "Subdomain", _S),
        ("setHostnameAsFQDN", "SetHostnameAsFQDN", "*bool"),
        ("affinity", "Affinity", "*core.Affinity"),
        ("schedulerName", "SchedulerName", _S),
        ("tolerations", "Tolerations", "[]core.Toleration"),
        ("hostAliases", "HostAliases", "[]core.HostAlias"),
        ("priorityClassName", "PriorityClassName", _S),
        ("priority", "Priority", "*int"),
        ("preemptionPolicy", "PreemptionPolicy", "*string"),
        ("dnsConfig", "DNSConfig", "*core.PodDNSConfig"),
        ("readinessGates", "ReadinessGates", "[]core.PodReadinessGate"),
        ("runtimeClassName", "RuntimeClassName", "*string"),
        ("overhead", "Overhead", "core.ResourceList"),
        ("enableServiceLinks", "EnableServiceLinks", "*bool"),
        (
            "topologySpreadConstraints",
            "TopologySpreadConstraints",
            "[]core.TopologySpreadConstraint",
        ),
        ("os", "OS", "*core.PodOS"),
        ("schedulingGates", "SchedulingGates", "[]core.PodSchedulingGate"),
        ("resourceClaims", "ResourceClaims", "[]core.PodResourceClaim"),
        ("resources", "Resources", "*core.ResourceRequirements"),
    ),
    "core.PodSecurityContext": (
        ("hostNetwork", "HostNetwork", _B),
        ("hostPID", "HostPID", _B),
        ("hostIPC", "HostIPC", _B),
        ("shareProcessNamespace", "ShareProcessNamespace", "*bool"),
        ("hostUsers", "HostUsers", "*bool"),
        ("seLinuxOptions", "SELinuxOptions", "*core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "*core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "*int"),
        ("runAsGroup", "RunAsGroup", "*int"),
        ("runAsNonRoot", "RunAsNonRoot", "*bool"),
        ("supplementalGroups", "SupplementalGroups", "[]int"),
        ("supplementalGroupsPolicy", "SupplementalGroupsPolicy", "*string"),
        ("fsGroup", "FSGroup", "*int"),
        ("fsGroupChangePolicy", "FSGroupChangePolicy", "*string"),
        ("sysctls", "Sysctls", "[]core.Sysctl"),
        ("seccompProfile", "SeccompProfile", "*core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "*core.AppArmorProfile"),
        ("seLinuxChangePolicy", "SELinuxChangePolicy", "*string"),
    ),
    "core.Container": (
        ("name", "Name", _S),
        ("image", "Image", _S),
        ("command", "Command", "[]string"),
        ("args", "Args", "[]string"),
        ("workingDir", "WorkingDir", _S),
        ("ports", "Ports", "[]core.ContainerPort"),
        ("envFrom", "EnvFrom", "[]core.EnvFromSource"),
        ("env", "Env", "[]core.EnvVar"),
        ("resources", "Resources", "core.ResourceRequirements"),
        ("resizePolicy", "ResizePolicy", "[]core.ContainerResizePolicy"),
        ("restartPolicy", "RestartPolicy", "*string"),
        ("volumeMounts", "VolumeMounts", "[]core.VolumeMount"),
        ("volumeDevices", "VolumeDevices", "[]core.VolumeDevice"),
        ("livenessProbe", "LivenessProbe", "*core.Probe"),
        ("readinessProbe", "ReadinessProbe", "*core.Probe"),
        ("startupProbe", "StartupProbe", "*core.Probe"),
        ("lifecycle", "Lifecycle", "*core.Lifecycle"),
        ("terminationMessagePath", "TerminationMessagePath", _S),
        ("terminationMessagePolicy", "TerminationMessagePolicy", _S),
        ("imagePullPolicy", "ImagePullPolicy", _S),
        ("securityContext", "SecurityContext", "*core.SecurityContext"),
        ("stdin", "Stdin", _B),
        ("stdinOnce", "StdinOnce", _B),
        ("tty", "TTY", _B),
    ),
    "core.SecurityContext": (
        ("capabilities", "Capabilities", "*core.Capabilities"),
        ("privileged", "Privileged", "*bool"),
        ("seLinuxOptions", "SELinuxOptions", "*core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "*core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "*int"),
        ("runAsGroup", "RunAsGroup", "*int"),
        ("runAsNonRoot", "RunAsNonRoot", "*bool"),
        ("readOnlyRootFilesystem", "ReadOnlyRootFilesystem", "*bool"),
        ("allowPrivilegeEscalation", "AllowPrivilegeEscalation", "*bool"),
        ("procMount", "ProcMount", "*string"),
        ("seccompProfile", "SeccompProfile", "*core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "*core.AppArmorProfile"),
    ),
    "core.Capabilities": (("add", "Add", "[]string"), ("drop", "Drop", "[]string")),
    "core.SeccompProfile": (
        ("type", "Type", _S),
        ("localhostProfile", "LocalhostProfile", "*string"),
    ),
    "core.Sysctl": (("name", "Name", _S), ("value", "Value", _S)),
    "core.ContainerPort": (
        ("name", "Name", _S),
        ("hostPort", "HostPort", _I),
        ("containerPort", "ContainerPort", _I),
        ("protocol", "Protocol", _S),
        ("hostIP", "HostIP", _S),
    ),
    "core.EnvVar": (
        ("name", "Name", _S),
        ("value", "Value", _S),
        ("valueFrom", "ValueFrom", "*core.EnvVarSource"),
    ),
    "core.EnvVarSource": (
        ("fieldRef", "FieldRef", "*core.ObjectFieldSelector"),
        ("resourceFieldRef", "ResourceFieldRef", "*core.ResourceFieldSelector"),
        ("configMapKeyRef", "ConfigMapKeyRef", "*core.ConfigMapKeySelector"),
        ("secretKeyRef", "SecretKeyRef", "*core.SecretKeySelector"),
    ),
    "core.ObjectFieldSelector": (("apiVersion", "APIVersion", _S), ("fieldPath", "FieldPath", _S)),
    "core.ResourceFieldSelector": (
        ("containerName", "ContainerName", _S),
        ("resource", "Resource", _S),
        ("divisor", "Divisor", "resource.Quantity"),
    ),
    "core.ConfigMapKeySelector": (
        _LOCAL_REF,
        ("key", "Key", _S),
        ("optional", "Optional", "*bool"),
    ),
    "core.SecretKeySelector": (_LOCAL_REF, ("key", "Key", _S), ("optional", "Optional", "*bool")),
    "core.EnvFromSource": (
        ("prefix", "Prefix", _S),
        ("configMapRef", "ConfigMapRef", "*core.ConfigMapEnvSource"),
        ("secretRef", "SecretRef", "*core.SecretEnvSource"),
    ),
    "core.ConfigMapEnvSource": (_LOCAL_REF, ("optional", "Optional", "*bool")),
    "core.SecretEnvSource": (_LOCAL_REF, ("optional", "Optional", "*bool")),
    "core.LocalObjectReference": (("name", "Name", _S),),
    "core.ResourceRequirements": (
        ("limits", "Limits", "core.ResourceList"),
        ("requests", "Requests", "core.ResourceList"),
        ("claims", "Claims", "[]core.ResourceClaim"),
    ),
    "core.VolumeMount": (
        ("name", "Name", _S),
        ("readOnly", "ReadOnly", _B),
        ("recursiveReadOnly", "RecursiveReadOnly", "*string"),
        ("mountPath", "MountPath", _S),
        ("subPath", "SubPath", _S),
        ("mountPropagation", "MountPropagation", "*string"),
        ("subPathExpr", "SubPathExpr", _S),
    ),
    "core.Probe": (
        ("", "ProbeHandler", "embed:core.ProbeHandler"),
        ("initialDelaySeconds", "InitialDelaySeconds", _I),
        ("timeoutSeconds", "TimeoutSeconds", _I),
        ("periodSeconds", "PeriodSeconds", _I),
        ("successThreshold", "SuccessThreshold", _I),
        ("failureThreshold", "FailureThreshold", _I),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "*int"),
    ),
    "core.ProbeHandler": (
        ("exec", "Exec", "*core.ExecAction"),
        ("httpGet", "HTTPGet", "*core.HTTPGetAction"),
        ("tcpSocket", "TCPSocket", "*core.TCPSocketAction"),
        ("grpc", "GRPC", "*core.GRPCAction"),
    ),
    "core.Lifecycle": (
        ("postStart", "PostStart", "*core.LifecycleHandler"),
        ("preStop", "PreStop", "*core.LifecycleHandler"),
        ("stopSignal", "StopSignal", "*string"),
    ),
    "core.LifecycleHandler": (
        ("exec", "Exec", "*core.ExecAction"),
        ("httpGet", "HTTPGet", "*core.HTTPGetAction"),
        ("tcpSocket", "TCPSocket", "*core.TCPSocketAction"),
        ("sleep", "Sleep", "*core.SleepAction"),
    ),
    "core.ExecAction": (("command", "Command", "[]string"),),
    "core.HTTPGetAction": (
        ("path", "Path", _S),
        ("port", "Port", "intstr.IntOrString"),
        ("host", "Host", _S),
        ("scheme", "Scheme", _S),
        ("httpHeaders", "HTTPHeaders", "[]core.HTTPHeader"),
    ),
    "core.HTTPHeader": (("name", "Name", _S), ("value", "Value", _S)),
    "core.TCPSocketAction": (("port", "Port", "intstr.IntOrString"), ("host", "Host", _S)),
    "core.GRPCAction": (("port", "Port", _I), ("service", "Service", "*string")),
    "core.SleepAction": (("seconds", "Seconds", _I),),
    "core.Toleration": (
        ("key", "Key", _S),
        ("operator", "Operator", _S),
        ("value", "Value", _S),
        ("effect", "Effect", _S),
        ("tolerationSeconds", "TolerationSeconds", "*int"),
    ),
    "core.HostAlias": (("ip", "IP", _S), ("hostnames", "Hostnames", "[]string")),
    "core.PodDNSConfig": (
        ("nameservers", "Nameservers", "[]string"),
        ("searches", "Searches", "[]string"),
        ("options", "Options", "[]core.PodDNSConfigOption"),
    ),
    "core.PodDNSConfigOption": (("name", "Name", _S), ("value", "Value", "*string")),
    "core.PodReadinessGate": (("conditionType", "ConditionType", _S),),
    "core.PodSchedulingGate": (("name", "Name", _S),),
    "core.PodOS": (("name", "Name", _S),),
    "core.Volume": (("name", "Name", _S), ("", "VolumeSource", "embed:core.VolumeSource")),
    "core.VolumeSource": tuple(
        (key, go_name, f"*core.{go_type}")
        for key, go_name, go_type in (
            ("hostPath", "HostPath", "HostPathVolumeSource"),
            ("emptyDir", "EmptyDir", "EmptyDirVolumeSource"),
            ("gcePersistentDisk", "GCEPersistentDisk", "GCEPersistentDiskVolumeSource"),
            ("awsElasticBlockStore", "AWSElasticBlockStore", "AWSElasticBlockStoreVolumeSource"),
            ("gitRepo", "GitRepo", "GitRepoVolumeSource"),
            ("secret", "Secret", "SecretVolumeSource"),
            ("nfs", "NFS", "NFSVolumeSource"),
            ("iscsi", "ISCSI", "ISCSIVolumeSource"),
            ("glusterfs", "Glusterfs", "GlusterfsVolumeSource"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
            ("rbd", "RBD", "RBDVolumeSource"),
            ("quobyte", "Quobyte", "QuobyteVolumeSource"),
            ("flexVolume", "FlexVolume", "FlexVolumeSource"),
            ("cinder", "Cinder", "CinderVolumeSource"),
            ("cephfs", "CephFS", "CephFSVolumeSource"),
            ("flocker", "Flocker", "FlockerVolumeSource"),
            ("downwardAPI", "DownwardAPI", "DownwardAPIVolumeSource"),
            ("fc", "FC", "FCVolumeSource"),
            ("azureFile", "AzureFile", "AzureFileVolumeSource"),
            ("configMap", "ConfigMap", "ConfigMapVolumeSource"),
            ("vsphereVolume", "VsphereVolume", "VsphereVirtualDiskVolumeSource"),
            ("azureDisk", "AzureDisk", "AzureDiskVolumeSource"),
            ("photonPersistentDisk", "PhotonPersistentDisk", "PhotonPersistentDiskVolumeSource"),
            ("projected", "Projected", "ProjectedVolumeSource"),
            ("portworxVolume", "PortworxVolume", "PortworxVolumeSource"),
            ("scaleIO", "ScaleIO", "ScaleIOVolumeSource"),
            ("storageos", "StorageOS", "StorageOSVolumeSource"),
            ("csi", "CSI", "CSIVolumeSource"),
            ("ephemeral", "Ephemeral", "EphemeralVolumeSource"),
            ("image", "Image", "ImageVolumeSource"),
        )
    ),
    "core.HostPathVolumeSource": (("path", "Path", _S), ("type", "Type", "*string")),
    "core.EmptyDirVolumeSource": (
        ("medium", "Medium", _S),
        ("sizeLimit", "SizeLimit", "*resource.Quantity"),
    ),
    "core.SecretVolumeSource": (
        ("secretName", "SecretName", _S),
        ("items", "Items", "[]core.KeyToPath"),
        ("defaultMode", "DefaultMode", "*int"),
        ("optional", "Optional", "*bool"),
    ),
    "core.ConfigMapVolumeSource": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("defaultMode", "DefaultMode", "*int"),
        ("optional", "Optional", "*bool"),
    ),
    "core.KeyToPath": (("key", "Key", _S), ("path", "Path", _S), ("mode", "Mode", "*int")),
    "core.PersistentVolumeClaimVolumeSource": (
        ("claimName", "ClaimName", _S),
        ("readOnly", "ReadOnly", _B),
    ),
    "core.DownwardAPIVolumeSource": (
        ("items", "Items", "[]core.DownwardAPIVolumeFile"),
        ("defaultMode", "DefaultMode", "*int"),
    ),
    "core.DownwardAPIVolumeFile": (
        ("path", "Path", _S),
        ("fieldRef", "FieldRef", "*core.ObjectFieldSelector"),
        ("resourceFieldRef", "ResourceFieldRef", "*core.ResourceFieldSelector"),
        ("mode", "Mode", "*int"),
    ),
    "core.ProjectedVolumeSource": (
        ("sources", "Sources", "[]core.VolumeProjection"),
        ("defaultMode", "DefaultMode", "*int"),
    ),
    "core.VolumeProjection": (
        ("secret", "Secret", "*core.SecretProjection"),
        ("downwardAPI", "DownwardAPI", "*core.DownwardAPIProjection"),
        ("configMap", "ConfigMap", "*core.ConfigMapProjection"),
        ("serviceAccountToken", "ServiceAccountToken", "*core.ServiceAccountTokenProjection"),
        ("clusterTrustBundle", "ClusterTrustBundle", "*core.ClusterTrustBundleProjection"),
    ),
    "core.SecretProjection": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("optional", "Optional", "*bool"),
    ),
    "core.ConfigMapProjection": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("optional", "Optional", "*bool"),
    ),
    "core.DownwardAPIProjection": (("items", "Items", "[]core.DownwardAPIVolumeFile"),),
    "core.ServiceAccountTokenProjection": (
        ("audience", "Audience", _S),
        ("expirationSeconds", "ExpirationSeconds", _I),
        ("path", "Path", _S),
    ),
}

# Initialisms Go spells in capitals, for field names of types not listed above.
_INITIALISMS = {"api", "dns", "fc", "fqdn", "fs", "grpc", "http", "id", "ip", "ipc", "os"}
_INITIALISMS |= {"pid", "se", "tcp", "tty", "uid", "url", "uri", "csi", "nfs", "rbd", "iscsi"}


def go_pod_spec(spec: Obj) -> _GoStruct:
    """The internal core.PodSpec of a v1 spec, as conversion builds it."""
    internal = dict(spec)
    security = dict(spec.get("securityContext") or {})
    for key in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "hostUsers"):
        if key in spec:
            security[key] = spec[key]
    internal["securityContext"] = security
    node = _to_go(internal, "core.PodSpec")
    assert isinstance(node, _GoStruct)
    return node


def _to_go(value: Any, go_type: str) -> Any:
    if go_type.startswith("*"):
        return _GoPtr(None if value is None else _to_go(value, go_type[1:]))
    if go_type.startswith("[]"):
        if not isinstance(value, list):
            return _GoSlice(go_type, None)
        return _GoSlice(go_type, tuple(_to_go(v, go_type[2:]) for v in value))
    if go_type in ("map[string]string", "core.ResourceList"):
        if not isinstance(value, dict):
            return _GoMap(go_type, None)
        if go_type == "map[string]string":
            return _GoMap(
                go_type, tuple((json.dumps(k), _leaf(v)) for k, v in sorted(value.items()))
            )
        # ResourceName is a Stringer, so go-cmp prints the keys as s"cpu".
        entries = tuple((f"s{json.dumps(k)}", _go_quantity(v)) for k, v in sorted(value.items()))
        return _GoMap(go_type, entries)
    if go_type == "resource.Quantity":
        return _go_quantity(value)
    if go_type == "intstr.IntOrString":
        if isinstance(value, str):
            fields = (("Type", _leaf(1)), ("IntVal", _leaf(0)), ("StrVal", _leaf(value)))
        else:
            fields = (("Type", _leaf(0)), ("IntVal", _leaf(value or 0)), ("StrVal", _leaf("")))
        return _GoStruct(go_type, fields)
    if go_type in (_S, _I, _B):
        return _leaf(value if value is not None else {_S: "", _I: 0, _B: False}[go_type])
    return _go_struct(value if isinstance(value, dict) else {}, go_type)


def _go_struct(obj: Obj, go_type: str) -> _GoStruct:
    layout = _GO_TYPES.get(go_type)
    if layout is None:
        return _GoStruct(
            go_type, tuple((_go_name(k), _generic(v, k)) for k, v in obj.items() if v is not None)
        )
    fields = []
    for key, go_name, field_type in layout:
        if field_type.startswith("embed:"):
            fields.append((go_name, _go_struct(obj, field_type[len("embed:") :])))
        else:
            fields.append((go_name, _to_go(obj.get(key), field_type)))
    return _GoStruct(go_type, tuple(fields))


def _generic(value: Any, key: str) -> Any:
    """A field of a type not modelled above, from its JSON alone."""
    if isinstance(value, dict):
        return _GoStruct(
            f"core.{_go_name(key)}",
            tuple((_go_name(k), _generic(v, k)) for k, v in value.items() if v is not None),
        )
    if isinstance(value, list):
        singular = key[:-1] if key.endswith("s") else key
        items = tuple(_generic(v, singular) for v in value)
        element = f"core.{_go_name(singular)}" if any(isinstance(v, dict) for v in value) else _S
        return _GoSlice(f"[]{element}", items)
    return _leaf(value)


def _go_name(json_name: str) -> str:
    """The Go name of a JSON field: `hostIPC` -> `HostIPC`, `fsGroup` -> `FSGroup`."""
    words = re.findall(r"[a-z0-9]+|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", json_name)
    return "".join(w.upper() if w.lower() in _INITIALISMS else w[:1].upper() + w[1:] for w in words)


def _leaf(value: Any) -> _GoLeaf:
    if isinstance(value, bool):
        return _GoLeaf("true" if value else "false", not value)
    if isinstance(value, int | float):
        return _GoLeaf(str(value), value == 0)
    text = "" if value is None else str(value)
    return _GoLeaf(json.dumps(text, ensure_ascii=False), text == "")


def _go_quantity(value: Any) -> Any:
    if value is None:
        return _GoLeaf("{}", True)
    quantity = _quantity(value)
    return _GoQuantity(quantity) if quantity is not None else _leaf(value)


def _is_zero(node: Any) -> bool:
    if isinstance(node, _GoStruct):
        return all(_is_zero(v) for _, v in node.fields)
    if isinstance(node, _GoSlice):
        return node.items is None
    if isinstance(node, _GoMap):
        return node.entries is None
    if isinstance(node, _GoPtr):
        return node.target is None
    if isinstance(node, _GoLeaf):
        return node.zero
    return False


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual: like ==, but nil and empty slices and maps are equal."""
    if isinstance(a, _GoSlice) and isinstance(b, _GoSlice):
        x, y = a.items or (), b.items or ()
        return len(x) == len(y) and all(semantic_equal(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(a, _GoMap) and isinstance(b, _GoMap):
        left, right = dict(a.entries or ()), dict(b.entries or ())
        return left.keys() == right.keys() and all(semantic_equal(left[k], right[k]) for k in left)
    if isinstance(a, _GoStruct) and isinstance(b, _GoStruct):
        return a.type == b.type and all(
            semantic_equal(p, q) for (_, p), (_, q) in zip(a.fields, b.fields, strict=True)
        )
    if isinstance(a, _GoPtr) and isinstance(b, _GoPtr):
        if a.target is None or b.target is None:
            return a.target is b.target
        return semantic_equal(a.target, b.target)
    return bool(a == b)


# Text nodes, as go-cmp's report_text.go builds them.
_MAX_COLUMN = 80
_ELLIPSIS = "..."


@dataclass
class _Line:
    text: str


@dataclass
class _Wrap:
    prefix: str
    value: Any
    suffix: str


@dataclass
class _Record:
    diff: str  # "", "-" or "+"
    key: str
    value: Any
    elide_comma: bool = False
    comment: str = ""


@dataclass
class _List:
    records: list[_Record]


def _compact(node: Any, mode: str) -> tuple[str, Any]:
    """formatCompactTo: the one-line text, and the node (a _Line if it may stay on one line)."""
    if isinstance(node, _Line):
        return node.text, node
    if isinstance(node, _Wrap):
        inner, value = _compact(node.value, mode)
        text = node.prefix + inner + node.suffix
        if isinstance(value, _Line):
            return text, _Line(text)
        return text, _Wrap(node.prefix, value, node.suffix)
    multiline = False
    parts = []
    records = []
    for record in node.records:
        if record.diff:
            multiline = True
        inner, value = _compact(record.value, record.diff or mode)
        if not isinstance(value, _Line) or record.comment:
            multiline = True
        parts.append(f"{record.key}: {inner}" if record.key else inner)
        records.append(_Record(record.diff, record.key, value, record.elide_comma, record.comment))
    text = ", ".join(parts)
    if mode in ("-", "+") and len(text) > _MAX_COLUMN:
        multiline = True
    if not multiline:
        return text, _Line(text)
    return text, _List(records)


def _indent(depth: int, mode: str) -> str:
    return {"-": "- ", "+": "+ "}.get(mode, "  ") + "\t" * depth


def _expanded(node: Any, mode: str, depth: int) -> str:
    """formatExpandedTo: multi-line text with go-cmp's indentation and key alignment."""
    if isinstance(node, _Line):
        return node.text
    if isinstance(node, _Wrap):
        return node.prefix + _expanded(node.value, mode, depth) + node.suffix
    records = node.records
    simple = all(
        not r.diff and not r.key and isinstance(r.value, _Line) and not r.comment for r in records
    )
    out = []
    if simple:
        batch = ""
        for record in records:
            if len(batch) + len(record.value.text) + 2 > _MAX_COLUMN and batch:
                out.append("\n" + _indent(depth + 1, mode) + batch.rstrip(" "))
                batch = ""
            batch += record.value.text + ", "
        if batch:
            out.append("\n" + _indent(depth + 1, mode) + batch.rstrip(" "))
        return "".join(out) + "\n" + _indent(depth, mode)
    pads = _key_alignment(records)
    for record, pad in zip(records, pads, strict=True):
        record_mode = record.diff or mode
        line = "\n" + _indent(depth + 1, record_mode)
        if record.key:
            line += record.key + ": "
        line += " " * pad + _expanded(record.value, record_mode, depth + 1)
        if not record.elide_comma:
            line += ","
        if record.comment:
            line += " // " + record.comment
        out.append(line)
    return "".join(out) + "\n" + _indent(depth, mode)


def _key_alignment(records: list[_Record]) -> list[int]:
    """alignLens: consecutive one-line keyed records have their values aligned."""
    pads = [0] * len(records)
    start = 0
    widest = 0
    for i, record in enumerate([*records, _Record("", "", None)]):
        if i == len(records) or not record.key or not isinstance(record.value, _Line):
            for j in range(start, i):
                pads[j] = widest - len(records[j].key)
            start, widest = i + 1, 0
        else:
            widest = max(widest, len(record.key))
    return pads


# Formatting values (report_reflect.go FormatValue) and differences (report_compare.go).
_AUTO, _ELIDE, _EMIT = "auto", "elide", "emit"


def _typed(go_type: str, body: Any, mode: str, type_mode: str) -> Any:
    """FormatType: composite types are named except on identical lines or when elided."""
    if type_mode == _ELIDE or (type_mode == _AUTO and mode == " "):
        return body
    return _Wrap(go_type, body, "")


def _format_value(node: Any, mode: str, type_mode: str) -> Any:
    if isinstance(node, _GoLeaf):
        return _Line(node.text)
    if isinstance(node, _GoQuantity):
        named = type_mode == _EMIT or (type_mode == _AUTO and mode != " ")
        return _Line(node.quantity.go_repr(typed=named, nested_typed=mode != " "))
    if isinstance(node, _GoPtr):
        if node.target is None:
            return _Line("nil")
        return _Wrap("&", _format_value(node.target, mode, type_mode), "")
    if isinstance(node, _GoSlice | _GoMap):
        items = node.items if isinstance(node, _GoSlice) else node.entries
        if items is None:
            return _Line("nil")
        if isinstance(node, _GoSlice):
            records = [_Record("", "", _format_value(v, mode, _ELIDE)) for v in node.items or ()]
        else:
            records = [
                _Record("", k, _format_value(v, mode, _ELIDE)) for k, v in node.entries or ()
            ]
        return _typed(node.type, _Wrap("{", _List(records), "}"), mode, type_mode)
    records = [
        _Record("", name, _format_value(value, mode, _AUTO))
        for name, value in node.fields
        if not _is_zero(value)
    ]
    return _typed(node.type, _Wrap("{", _List(records), "}"), mode, type_mode)


_MISSING = object()


def _children(x: Any, y: Any) -> list[tuple[str, Any, Any]] | None:
    """The compared children of two values (None for values go-cmp treats as leaves)."""
    if x is _MISSING or y is _MISSING:
        return None
    if isinstance(x, _GoStruct) and isinstance(y, _GoStruct):
        return [(name, a, b) for (name, a), (_, b) in zip(x.fields, y.fields, strict=True)]
    if isinstance(x, _GoPtr) and isinstance(y, _GoPtr):
        if x.target is None or y.target is None:
            return None
        return [("", x.target, y.target)]
    if isinstance(x, _GoSlice) and isinstance(y, _GoSlice):
        if x.items is None or y.items is None:
            return None
        return [("", a, b) for a, b in _align_elements(x.items, y.items)]
    if isinstance(x, _GoMap) and isinstance(y, _GoMap):
        if x.entries is None or y.entries is None:
            return None
        a, b = dict(x.entries), dict(y.entries)
        return [(k, a.get(k, _MISSING), b.get(k, _MISSING)) for k in sorted(a.keys() | b.keys())]
    return None


def _stats(x: Any, y: Any) -> tuple[int, int, int, int]:
    """(descendants, depth, equal leaves, different leaves) of the comparison of x and y."""
    children = _children(x, y)
    if children is None:
        same = x is not _MISSING and y is not _MISSING and x == y
        return 0, 0, int(same), int(not same) * 2
    count = depth = same = diff = 0
    for _, a, b in children:
        c, d, s, f = _stats(a, b)
        count += c + 1
        depth = max(depth, d + 1)
        same += s
        diff += f
    return count, depth, same, diff


def _align_elements(xs: tuple[Any, ...], ys: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """An edit script between two slices: equal and similar elements paired, the rest alone."""
    pairs: list[tuple[Any, Any]] = []
    matcher = difflib.SequenceMatcher(
        None, list(map(repr, xs)), list(map(repr, ys)), autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend(zip(xs[i1:i2], ys[j1:j2], strict=True))
            continue
        left, right = list(xs[i1:i2]), list(ys[j1:j2])
        while left and right:
            _, _, same, diff = _stats(left[0], right[0])
            if same + 1 < diff:
                break
            pairs.append((left.pop(0), right.pop(0)))
        pairs.extend((x, _MISSING) for x in left)
        pairs.extend((_MISSING, y) for y in right)
    return pairs


def _format_diff(x: Any, y: Any, type_mode: str) -> Any:
    """FormatDiff of two different values that go-cmp descends into."""
    if isinstance(x, _GoPtr):
        return _Wrap("&", _format_diff(x.target, y.target, type_mode), "")
    children = _children(x, y) or []
    if isinstance(x, _GoStruct):
        name, child_type_mode = "field", _AUTO
    elif isinstance(x, _GoSlice):
        name, child_type_mode = "element", _ELIDE
    else:
        name, child_type_mode = "entry", _ELIDE
    body = _Wrap("{", _List(_diff_records(children, name, child_type_mode)), "}")
    return _typed(x.type, body, "", type_mode)


def _diff_records(children: list[tuple[str, Any, Any]], name: str, type_mode: str) -> list[_Record]:
    """formatDiffList: changes with two records of context, equal runs folded."""
    groups: list[tuple[bool, list[tuple[str, Any, Any]]]] = []
    for child_record in children:
        equal = child_record[1] == child_record[2]
        if groups and groups[-1][0] == equal:
            groups[-1][1].append(child_record)
        else:
            groups.append((equal, [child_record]))
    records: list[_Record] = []
    for index, (equal, members) in enumerate(groups):
        if not equal:
            for key, a, b in members:
                count, depth, _, _ = _stats(a, b)
                if count == depth:
                    if a is not _MISSING:
                        records.append(_Record("-", key, _format_value(a, "-", type_mode)))
                    if b is not _MISSING:
                        records.append(_Record("+", key, _format_value(b, "+", type_mode)))
                else:
                    records.append(_Record("", key, _format_diff(a, b, type_mode)))
            continue
        total = len(members)
        low = min(2, total) if index != 0 else 0
        high = min(2, total - low) if index != len(groups) - 1 else 0
        if total - (low + high) == 1:
            high += 1
        for key, a, _ in members[:low]:
            records.append(_Record("", key, _format_value(a, " ", type_mode)))
        folded = total - low - high
        if folded > 0:
            noun = name if folded == 1 else ("entries" if name == "entry" else name + "s")
            records.append(
                _Record(
                    "", "", _Line(_ELLIPSIS), elide_comma=True, comment=f"{folded} identical {noun}"
                )
            )
        for key, a, _ in members[total - high :]:
            records.append(_Record("", key, _format_value(a, " ", type_mode)))
    return records


def render_spec_diff(old: _GoStruct, new: _GoStruct) -> str:
    """cmp.Diff(old, new) of two core.PodSpecs, as Kubernetes appends it to its error."""
    root = _format_diff(old, new, _EMIT)
    _, compacted = _compact(root, "")
    return _indent(0, "") + _expanded(compacted, "", 0) + "\n"
