"""Defaults of pods and of the pod templates in workloads, as a Kubernetes 1.33 server sets them.

`kubectl get pod -o yaml` on a real cluster shows many fields nobody wrote; they come from three
places, mirrored here so that what kubelite serves is the same:

- `default_pod_spec`: the defaulting functions of `pkg/apis/core/v1/defaults.go` (and the
  declarative `+default` markers) that apply to every PodSpec, a Deployment's template as well as
  a pod: restart and DNS policy, grace period, scheduler, pull policy by image tag, termination
  message, probe timings, volume file modes, port protocols, and quantities in canonical form.
- `default_pod`: what only a Pod gets, from `SetDefaults_Pod` (requests copied from limits,
  the pod's own resources completed from its containers' (`pod_level`), `enableServiceLinks`,
  host ports under host networking) and from the admission plugins every
  cluster runs: ServiceAccount (`serviceAccountName: default`), DefaultTolerationSeconds (the
  not-ready and unreachable tolerations for 300 s) and Priority (`priority: 0`,
  `preemptionPolicy: PreemptLowerPriority`).
- `mount_service_account_token`: the ServiceAccount plugin's `kube-api-access-<random>`
  projected volume, mounted read-only in every container; the pod strategy adds it on create.

Everything works in place on plain dicts of Kubernetes JSON. Quantities that do not parse raise
`QuantityError`, whose message is the one Kubernetes gives when it fails to decode them.
"""

from __future__ import annotations

import functools
import random
import re
from typing import Any

from kubelite.api.defaulting.fields import set_if_empty, set_if_none
from kubelite.api.defaulting.pod_level import default_pod_level_resources
from kubelite.api.quantity import canonical_json, canonical_resource_list
from kubelite.api.tolerations import TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE
from kubelite.api.types import Obj
from kubelite.api.wellknown import ROOT_CA_CONFIG_MAP

# pkg/apis/core/v1 and k8s.io/api/core/v1 constants.
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30  # v1.DefaultTerminationGracePeriodSeconds
DEFAULT_SCHEDULER_NAME = "default-scheduler"  # v1.DefaultSchedulerName
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"  # v1.TerminationMessagePathDefault
# Secret, ConfigMap, DownwardAPI and Projected volume default mode, 0644
# (v1.SecretVolumeSourceDefaultMode and its siblings).
DEFAULT_VOLUME_MODE = 0o644
# SetDefaults_ServiceAccountTokenProjection: one hour.
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600
DEFAULT_ENABLE_SERVICE_LINKS = True  # v1.DefaultEnableServiceLinks

# SetDefaults_Probe.
PROBE_TIMEOUT_SECONDS = 1
PROBE_PERIOD_SECONDS = 10
PROBE_SUCCESS_THRESHOLD = 1
PROBE_FAILURE_THRESHOLD = 3

# plugin/pkg/admission/defaulttolerationseconds: --default-not-ready-toleration-seconds and
# --default-unreachable-toleration-seconds.
DEFAULT_TOLERATION_SECONDS = 300

# plugin/pkg/admission/serviceaccount.
DEFAULT_SERVICE_ACCOUNT_NAME = "default"
SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"  # ServiceAccountVolumeName + "-"
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: an hour and seven seconds, so that the
# API server can tell tokens it issued for this volume from others.
SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS = 3607
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"  # v1.MirrorPodAnnotationKey

# plugin/pkg/admission/priority and pkg/apis/scheduling: the priority a pod gets when no
# PriorityClass is named and none is the global default, and the two built-in classes.
DEFAULT_PRIORITY = 0
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}

# The letters of apimachinery's utilrand.String, which names generated volumes.
_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATED_SUFFIX_LENGTH = 5

# Every member of v1.VolumeSource: a volume with none of them is an emptyDir.
VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)

_VOLUME_SOURCE_SET = frozenset(VOLUME_SOURCES)
# The volume sources with defaults of their own, besides an emptyDir's size.
_DEFAULTED_SOURCES = frozenset(
    {"hostPath", "secret", "configMap", "downwardAPI", "projected", "ephemeral", "image"}
)

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBES_AND_LIFECYCLE = frozenset({*PROBES, "lifecycle"})


# --- the PodSpec --------------------------------------------------------------------------------


def default_pod_spec(spec: Obj) -> None:
    """Defaults of every PodSpec (SetDefaults_PodSpec and the defaults of what it contains)."""
    _mirror_service_account(spec)
    set_if_empty(spec, "dnsPolicy", "ClusterFirst")
    set_if_empty(spec, "restartPolicy", "Always")
    set_if_none(spec, "securityContext", {})
    set_if_none(spec, "terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
    set_if_empty(spec, "schedulerName", DEFAULT_SCHEDULER_NAME)
    for volume in spec.get("volumes") or []:
        _default_volume(volume)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            _default_container(container)
    if isinstance(spec.get("overhead"), dict):
        canonical_resource_list(spec["overhead"])
    if isinstance(spec.get("resources"), dict):
        _default_resource_requirements(spec["resources"])


def _mirror_service_account(spec: Obj) -> None:
    """v1 keeps the deprecated `serviceAccount` beside `serviceAccountName`; conversion fills the
    name from it when only it is given, and always serves both the same."""
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)


def _default_container(container: Obj) -> None:
    """SetDefaults_Container and the defaults of a container's ports, env, probes, resources."""
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(container.get("image") or "")
    set_if_empty(container, "terminationMessagePath", TERMINATION_MESSAGE_PATH_DEFAULT)
    set_if_empty(container, "terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        set_if_empty(port, "protocol", "TCP")
    for env in container.get("env") or []:
        _default_env_source(env.get("valueFrom"))
    # Resources is a struct, not a pointer, in Go: it is always served, `{}` when empty.
    if not isinstance(container.get("resources"), dict):
        container["resources"] = {}
    if container["resources"]:
        _default_resource_requirements(container["resources"])
    if _PROBES_AND_LIFECYCLE.isdisjoint(container):
        return
    for probe in PROBES:
        if isinstance(container.get(probe), dict):
            _default_probe(container[probe])
    lifecycle = container.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        handler = lifecycle.get(hook)
        if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
            _default_http_get(handler["httpGet"])


def _default_resource_requirements(resources: Obj) -> None:
    for key in ("limits", "requests"):
        if isinstance(resources.get(key), dict):
            canonical_resource_list(resources[key])


def _default_probe(probe: Obj) -> None:
    """SetDefaults_Probe: zero means unset for these, as they are plain int32s in Go."""
    for key, value in (
        ("timeoutSeconds", PROBE_TIMEOUT_SECONDS),
        ("periodSeconds", PROBE_PERIOD_SECONDS),
        ("successThreshold", PROBE_SUCCESS_THRESHOLD),
        ("failureThreshold", PROBE_FAILURE_THRESHOLD),
    ):
        if not probe.get(key):
            probe[key] = value
    if isinstance(probe.get("httpGet"), dict):
        _default_http_get(probe["httpGet"])
    if isinstance(probe.get("grpc"), dict):
        # GRPCAction.Service is `+default=""`, and serialized even when nil.
        set_if_none(probe["grpc"], "service", "")


def _default_http_get(action: Obj) -> None:
    """SetDefaults_HTTPGetAction."""
    set_if_empty(action, "path", "/")
    set_if_empty(action, "scheme", "HTTP")


def _default_env_source(source: Any) -> None:
    if not isinstance(source, dict):
        return
    _default_field_selector(source.get("fieldRef"))
    _default_resource_field_selector(source.get("resourceFieldRef"))
    file_key_ref = source.get("fileKeyRef")
    if isinstance(file_key_ref, dict):
        # FileKeySelector.Optional is `+default=false` (unlike the ConfigMap and Secret key
        # selectors, which leave it unset).
        set_if_none(file_key_ref, "optional", False)


def _default_field_selector(selector: Any) -> None:
    """SetDefaults_ObjectFieldSelector."""
    if isinstance(selector, dict):
        set_if_empty(selector, "apiVersion", "v1")


def _default_resource_field_selector(selector: Any) -> None:
    """The divisor is a Quantity struct in Go, so it is always served: `"0"` when unset."""
    if isinstance(selector, dict):
        selector["divisor"] = canonical_json(selector.get("divisor"))


def _default_volume(volume: Obj) -> None:
    """SetDefaults_Volume and the defaults of each volume source."""
    if not _names_a_source(volume):
        volume["emptyDir"] = {}
    empty_dir = volume.get("emptyDir")
    if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = canonical_json(empty_dir["sizeLimit"])
    if _DEFAULTED_SOURCES.isdisjoint(volume):
        # An emptyDir, a PVC, a CSI volume...: nothing more to default.
        return
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        set_if_none(host_path, "type", "")
    image = volume.get("image")
    if isinstance(image, dict) and not image.get("pullPolicy"):
        # SetDefaults_Volume: an image volume's pull policy as a container's, by its tag.
        image["pullPolicy"] = image_pull_policy(image.get("reference") or "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            set_if_none(volume[source], "defaultMode", DEFAULT_VOLUME_MODE)
    _default_downward_api_items(volume.get("downwardAPI"))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for projection in projected.get("sources") or []:
            token = projection.get("serviceAccountToken")
            if isinstance(token, dict):
                set_if_none(token, "expirationSeconds", DEFAULT_TOKEN_EXPIRATION_SECONDS)
            _default_downward_api_items(projection.get("downwardAPI"))
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict):
        claim_spec = (ephemeral.get("volumeClaimTemplate") or {}).get("spec")
        if isinstance(claim_spec, dict):
            # SetDefaults_PersistentVolumeClaimSpec.
            set_if_none(claim_spec, "volumeMode", "Filesystem")
            if isinstance(claim_spec.get("resources"), dict):
                _default_resource_requirements(claim_spec["resources"])


def _names_a_source(volume: Obj) -> bool:
    """Whether any volume source is set: looked for among the volume's own few keys."""
    if not isinstance(volume, dict):
        # Not an object: fails here as it always has.
        return any(volume.get(source) is not None for source in VOLUME_SOURCES)
    # A loop, not any() over a generator, which costs several times more for two keys.
    for key in volume:  # noqa: SIM110
        if key in _VOLUME_SOURCE_SET and volume[key] is not None:
            return True
    return False


def _default_downward_api_items(source: Any) -> None:
    if not isinstance(source, dict):
        return
    for item in source.get("items") or []:
        _default_field_selector(item.get("fieldRef"))
        _default_resource_field_selector(item.get("resourceFieldRef"))


# --- image pull policy ----------------------------------------------------------------------------

# The reference grammar of github.com/distribution/reference, which parsers.ParseImageName uses.
_ALNUM = "[a-z0-9]+"
_SEPARATOR = "(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = f"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(f"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_HEX_IDENTIFIER = re.compile("[a-f0-9]{64}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_NAME_MAX_LENGTH = 255


def image_pull_policy(image: str) -> str:
    """SetDefaults_Container: Always for `:latest` or no tag at all, IfNotPresent otherwise.

    A digest without a tag pins the image, so it is IfNotPresent; so is a reference that does
    not parse (validation reports it, defaulting ignores the error).
    """
    if type(image) is str and len(image) <= CACHED_IMAGE_LENGTH:
        return _pull_policy_of(image)
    return "Always" if _image_tag(image) == "latest" else "IfNotPresent"


# An image is the client's text, of any length validation lets through: only references of a
# plausible length are remembered, or the cache's 1,024 entries could hold megabytes each.
CACHED_IMAGE_LENGTH = 512


@functools.lru_cache(maxsize=1024)
def _pull_policy_of(image: str) -> str:
    # Parsing a reference takes a few regular expressions; a cluster runs a few images, often.
    return "Always" if _image_tag(image) == "latest" else "IfNotPresent"


def _image_tag(image: str) -> str | None:
    """The tag parsers.ParseImageName finds: "latest" when there is neither tag nor digest,
    None when the reference is not valid."""
    if _HEX_IDENTIFIER.fullmatch(image):
        return None
    slash = image.find("/")
    first = image[:slash]
    has_domain = slash != -1 and (
        any(c in first for c in ".:") or first == "localhost" or first.lower() != first
    )
    remainder = image[slash + 1 :] if has_domain else image
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        return None
    match = _REFERENCE.fullmatch(image if has_domain else f"docker.io/{image}")
    if match is None or len(match.group(1)) > _NAME_MAX_LENGTH:
        return None
    tag, digest = match.group(2), match.group(3)
    if digest:
        algorithm, _, encoded = digest.partition(":")
        if _DIGEST_LENGTHS.get(algorithm) != len(encoded) or encoded.lower() != encoded:
            return None
    if not tag and not digest:
        return "latest"
    return tag


# --- what only a Pod gets -------------------------------------------------------------------------


def default_pod(pod: Obj) -> None:
    """All defaults of a Pod: its spec's, SetDefaults_Pod's, and the admission plugins'."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        spec = pod["spec"] = {}
    # SetDefaults_Pod runs before the spec's defaults in Kubernetes; the order does not matter
    # for the result, as requests copied from limits are rounded the same way.
    _copy_limits_to_requests(spec)
    # The pod's own resources are defaulted after its containers' (SetDefaults_Pod's order).
    default_pod_level_resources(spec)
    set_if_none(spec, "enableServiceLinks", DEFAULT_ENABLE_SERVICE_LINKS)
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for container in spec.get(key) or []:
                for port in container.get("ports") or []:
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)
    mirror = MIRROR_POD_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})
    if not mirror and not spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT_NAME
    default_pod_spec(spec)
    _add_default_tolerations(spec)
    _default_priority(spec)
    status = pod.get("status")
    if isinstance(status, dict):
        null_zero_times(status.get("conditions"), ("lastProbeTime", "lastTransitionTime"))


def null_zero_times(conditions: Any, fields: tuple[str, ...]) -> None:
    """Conditions' time fields that are unset read as null, as Kubernetes serves them.

    They are `metav1.Time` values, not pointers, in Go: a zero time encodes as null and is
    never left out, so a patch that removes one (merge patches remove with null) still reads
    back as null.
    """
    if not isinstance(conditions, list):
        return
    for condition in conditions:
        if isinstance(condition, dict):
            for name in fields:
                condition.setdefault(name, None)


def _copy_limits_to_requests(spec: Obj) -> None:
    """Requests default to limits, for pods only (templates keep what the user wrote)."""
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            resources = container.get("resources")
            if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
                continue
            limits = resources["limits"]
            if not limits:
                continue
            requests = resources.get("requests")
            if not isinstance(requests, dict):
                requests = resources["requests"] = {}
            for name, value in limits.items():
                requests.setdefault(name, value)


def _add_default_tolerations(spec: Obj) -> None:
    """DefaultTolerationSeconds: tolerate not-ready and unreachable nodes for five minutes,
    unless the pod already tolerates them (an empty key or effect matches everything)."""
    tolerations = spec.get("tolerations") or []
    added = [
        {
            "key": taint,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
        }
        for taint in (TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE)
        if not _tolerates(tolerations, taint)
    ]
    if added:
        spec["tolerations"] = [*tolerations, *added]


def _tolerates(tolerations: list[Obj], taint: str) -> bool:
    """Whether a toleration matches the NoExecute `taint`."""
    for toleration in tolerations:
        key = toleration.get("key")
        if key in (taint, "", None) and toleration.get("effect") in ("NoExecute", "", None):
            return True
    return False


def _default_priority(spec: Obj) -> None:
    """Priority admission for the classes that need no lookup: none, or a built-in one.

    A pod naming another PriorityClass keeps what it has; resolving such names needs the
    PriorityClass objects, which admission (not defaulting) has.
    """
    class_name = spec.get("priorityClassName") or ""
    if class_name and class_name not in SYSTEM_PRIORITY_CLASSES:
        return
    set_if_none(spec, "priority", SYSTEM_PRIORITY_CLASSES.get(class_name, DEFAULT_PRIORITY))
    set_if_none(spec, "preemptionPolicy", DEFAULT_PREEMPTION_POLICY)


# --- the service account token volume -------------------------------------------------------------


def mount_service_account_token(pod: Obj, *, suffix: str | None = None) -> None:
    """The ServiceAccount admission plugin's token volume, on create.

    Every init and regular container without something already mounted at
    `/var/run/secrets/kubernetes.io/serviceaccount` gets a read-only mount of a projected volume
    `kube-api-access-<5 random letters>` holding a bound token, the cluster CA and the
    namespace. Nothing happens for mirror pods or when `automountServiceAccountToken` is false
    on the pod. (The ServiceAccount object's own `automountServiceAccountToken` must be checked
    by the caller, which can read it.)
    """
    spec = pod.get("spec") or {}
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if MIRROR_POD_ANNOTATION in annotations or spec.get("automountServiceAccountToken") is False:
        return
    volumes = spec.get("volumes") or []
    existing = _token_volume_name(volumes)
    name = existing
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            mounts = container.get("volumeMounts") or []
            if _mounts_token(mounts):
                continue
            if name is None:
                name = SERVICE_ACCOUNT_VOLUME_PREFIX + (suffix or _random_suffix())
            container["volumeMounts"] = [
                *mounts,
                {"name": name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH},
            ]
    if existing is None and name is not None:
        spec["volumes"] = [*volumes, _token_volume(name)]


def _token_volume_name(volumes: list[Obj]) -> str | None:
    """The name of a token volume the pod already has (`kube-api-access-...`), if any."""
    for volume in volumes:
        if str(volume.get("name", "")).startswith(SERVICE_ACCOUNT_VOLUME_PREFIX):
            return volume["name"]
    return None


def _mounts_token(mounts: list[Obj]) -> bool:
    """Whether something is mounted where the token goes already."""
    for mount in mounts:  # noqa: SIM110 (a loop: any() over a generator costs more)
        if mount.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH:
            return True
    return False


def _token_volume(name: str) -> Obj:
    return {
        "name": name,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "expirationSeconds": SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS,
                        "path": "token",
                    }
                },
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIG_MAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": DEFAULT_VOLUME_MODE,
        },
    }


def _random_suffix() -> str:
    # utilrand.String draws from math/rand, not from a cryptographic source: these names are
    # unique enough, not secret, and a draw from the OS for each letter costs microseconds.
    return "".join(random.choices(_RANDOM_ALPHABET, k=_GENERATED_SUFFIX_LENGTH))
