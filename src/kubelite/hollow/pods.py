"""The status a hollow node writes for a pod it "runs", and the addresses it hands out.

A real kubelet reports a started pod with `generateAPIPodStatus` (`pkg/kubelet/kubelet_pods.go`)
and its status manager; a hollow node skips image pulls and containers and writes, in one
pods/status write, what the kubelet would report once everything started:

- `phase: Running`, `startTime`, `hostIP`/`hostIPs` (the node's address), `podIP`/`podIPs`
  (a fresh address from the node's pod CIDR; the node's own for `hostNetwork` pods);
- the conditions the kubelet owns, after those it does not (kept as they are) and in its order:
  PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled, each with
  `lastProbeTime: null`; PodScheduled keeps the scheduler's transition time. A pod whose
  readiness gates are not all True is not Ready (`ReadinessGatesNotReady`), as in
  `status.GeneratePodReadyCondition`;
- `containerStatuses`, sorted by name as the kubelet sorts them, each running since now, started
  and ready (a hollow node has no probes to wait for), with `restartCount` 0, `lastState: {}`,
  the image as a runtime normalises it (`docker.io/library/nginx:latest`), an `imageID` digest,
  a `containerID`, the `volumeMounts` (RecursiveReadOnlyMounts) and the `resources` the
  kubelet reports for running containers (InPlacePodVerticalScaling);
- `initContainerStatuses` in spec order: terminated with reason Completed and exit code 0,
  ready and not started; sidecars (`restartPolicy: Always`) running, started and ready.

The runtime-specific identifiers say what they are: container IDs use the `kubelite-hollow://`
scheme, and image digests are derived from the image name, not pulled.
"""

from __future__ import annotations

import hashlib
import ipaddress

from kubelite.api.pods import is_restartable_init_container
from kubelite.api.types import Obj

RUNTIME_SCHEME = "kubelite-hollow://"
RUNNING = "Running"

# The pod conditions a kubelet writes (kubetypes.PodConditionByKubelet); others are kept.
KUBELET_CONDITIONS = frozenset(
    {
        "PodScheduled",
        "Ready",
        "Initialized",
        "ContainersReady",
        "PodReadyToStartContainers",
        "PodResizePending",
        "PodResizeInProgress",
    }
)
# The resources a kubelet reports in a running container's status (convertContainerStatus-
# Resources only carries these three).
_STATUS_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_DEFAULT_DOMAIN = "docker.io"
_OFFICIAL_PREFIX = "library/"


def normalize_image(image: str) -> str:
    """The reference a container runtime reports for an image, as the docker reference
    library normalises it: `nginx` -> `docker.io/library/nginx:latest`."""
    name, digest = image, ""
    if "@" in name:
        name, digest = name.split("@", 1)
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = _DEFAULT_DOMAIN, name
    if domain == _DEFAULT_DOMAIN and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    if digest:
        return f"{domain}/{path}@{digest}"
    last = path.rsplit("/", 1)[-1]
    if ":" not in last:
        path += ":latest"
    return f"{domain}/{path}"


def image_id(image: str) -> str:
    """`<repository>@sha256:<digest>`, the form runtimes report; the digest of an image a hollow
    node never pulled is a hash of its name, so the same image always gets the same ID."""
    normalized = normalize_image(image)
    if "@" in normalized:
        return normalized
    repository = normalized.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(normalized.encode()).hexdigest()}"


def container_id(pod_uid: str, container: str) -> str:
    return f"{RUNTIME_SCHEME}{hashlib.sha256(f'{pod_uid}/{container}'.encode()).hexdigest()}"


def _volume_mounts(container: Obj) -> list[Obj]:
    """status.volumeMounts: each mount, read-only ones with their recursive mode resolved."""
    mounts = []
    for mount in container.get("volumeMounts") or ():
        status: Obj = {"name": mount.get("name", ""), "mountPath": mount.get("mountPath", "")}
        if mount.get("readOnly"):
            status["readOnly"] = True
            # A hollow runtime cannot make mounts recursively read-only: Enabled would be a lie
            # and IfPossible resolves to Disabled.
            status["recursiveReadOnly"] = "Disabled"
        mounts.append(status)
    return mounts


def _status_resources(container: Obj) -> Obj:
    resources = container.get("resources") or {}
    reported: Obj = {}
    for kind in ("limits", "requests"):
        values = {k: v for k, v in (resources.get(kind) or {}).items() if k in _STATUS_RESOURCES}
        if values:
            reported[kind] = values
    return reported


def _base_status(pod_uid: str, container: Obj) -> Obj:
    image = container.get("image") or ""
    status: Obj = {
        "name": container.get("name", ""),
        "state": {},
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": normalize_image(image),
        "imageID": image_id(image),
        "containerID": container_id(pod_uid, container.get("name", "")),
    }
    mounts = _volume_mounts(container)
    if mounts:
        status["volumeMounts"] = mounts
    return status


def running_container_status(pod_uid: str, container: Obj, started_at: str) -> Obj:
    status = _base_status(pod_uid, container)
    status["state"] = {"running": {"startedAt": started_at}}
    status["started"] = True
    status["resources"] = _status_resources(container)
    return status


def completed_init_status(pod_uid: str, container: Obj, started_at: str) -> Obj:
    """An init container that ran to completion: terminated, Completed, exit code 0; ready
    (prober manager: an init container that exited 0 is ready) and no longer started."""
    status = _base_status(pod_uid, container)
    status["state"] = {
        "terminated": {
            "exitCode": 0,
            "reason": "Completed",
            "startedAt": started_at,
            "finishedAt": started_at,
            "containerID": status["containerID"],
        }
    }
    status["started"] = False
    return status


def _condition(type_: str, status: str, since: str, reason: str = "", message: str = "") -> Obj:
    condition: Obj = {
        "type": type_,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _readiness_gates_problem(spec: Obj, conditions: list[Obj]) -> str:
    """Why the readiness gates keep the pod from being Ready, in the kubelet's words; ''."""
    by_type = {c.get("type"): c for c in conditions}
    problems = []
    for gate in spec.get("readinessGates") or ():
        wanted = gate.get("conditionType", "")
        found = by_type.get(wanted)
        if found is None:
            problems.append(
                f'corresponding condition of pod readiness gate "{wanted}" does not exist.'
            )
        elif found.get("status") != "True":
            problems.append(
                f'the status of pod readiness gate "{wanted}" is not "True", '
                f"but {found.get('status')}"
            )
    return ", ".join(problems)


def running_conditions(pod: Obj, now: str) -> list[Obj]:
    """The pod's conditions once all its containers run: others' first, then the kubelet's."""
    spec = pod.get("spec") or {}
    existing = (pod.get("status") or {}).get("conditions") or []
    kept = [c for c in existing if c.get("type") not in KUBELET_CONDITIONS]
    scheduled = next((c for c in existing if c.get("type") == "PodScheduled"), None)

    def since(type_: str, status: str) -> str:
        """The stored transition time when the status is unchanged, else now."""
        for condition in existing:
            if condition.get("type") == type_ and condition.get("status") == status:
                return str(condition.get("lastTransitionTime") or now)
        return now

    gates = _readiness_gates_problem(spec, kept)
    if gates:
        ready = _condition(
            "Ready", "False", since("Ready", "False"), "ReadinessGatesNotReady", gates
        )
    else:
        ready = _condition("Ready", "True", since("Ready", "True"))
    conditions = [
        *kept,
        _condition("PodReadyToStartContainers", "True", since("PodReadyToStartContainers", "True")),
        _condition("Initialized", "True", since("Initialized", "True")),
        ready,
        _condition("ContainersReady", "True", since("ContainersReady", "True")),
    ]
    if scheduled is not None and scheduled.get("status") == "True":
        conditions.append(scheduled)
    else:
        conditions.append(_condition("PodScheduled", "True", since("PodScheduled", "True")))
    return conditions


def running_status(pod: Obj, *, host_ip: str, pod_ip: str, now: str) -> Obj:
    """The status fields a hollow node writes to move a bound pod to Running and Ready."""
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid") or ""
    init_statuses = []
    for container in spec.get("initContainers") or ():
        if is_restartable_init_container(container):
            init_statuses.append(running_container_status(uid, container, now))
        else:
            init_statuses.append(completed_init_status(uid, container, now))
    containers = sorted(spec.get("containers") or (), key=lambda c: c.get("name", ""))
    status: Obj = {
        "phase": RUNNING,
        "conditions": running_conditions(pod, now),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": (pod.get("status") or {}).get("startTime") or now,
        "containerStatuses": [running_container_status(uid, c, now) for c in containers],
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return status


def status_patch(pod: Obj, status: Obj) -> Obj:
    """A merge patch of pods/status; it names the pod's uid, as the kubelet's status patches
    do, so that it cannot land on a pod recreated under the same name."""
    return {"metadata": {"uid": (pod.get("metadata") or {}).get("uid")}, "status": status}


def is_running(pod: Obj) -> bool:
    """Whether the pod already has the status a hollow node gives (e.g. from an earlier run)."""
    status = pod.get("status") or {}
    return status.get("phase") == RUNNING and bool(status.get("podIP"))


def needs_status(pod: Obj) -> bool:
    """Whether the hollow node has a status to write: the pod is not running yet, or its
    Ready condition no longer agrees with its readiness gates (another component set one),
    which the kubelet's status manager would put right."""
    if not is_running(pod):
        return True
    if not (pod.get("spec") or {}).get("readinessGates"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    kept = [c for c in conditions if c.get("type") not in KUBELET_CONDITIONS]
    wanted = "False" if _readiness_gates_problem(pod["spec"], kept) else "True"
    ready: Obj = next((c for c in conditions if c.get("type") == "Ready"), {})
    return ready.get("status") != wanted


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class PodAddresses:
    """The pod IPs of one node: each pod gets an address of the node's CIDR no other live pod
    holds; addresses found on pods at start-up (an earlier run's) are kept."""

    def __init__(self, network: ipaddress.IPv4Network) -> None:
        self._first = int(network.network_address) + 1
        self._size = network.num_addresses - 2  # no network or broadcast address
        self._network = network
        self._by_pod: dict[str, int] = {}
        self._used: set[int] = set()
        self._next = 0

    def __len__(self) -> int:
        return len(self._by_pod)

    def address_of(self, key: str) -> str | None:
        offset = self._by_pod.get(key)
        return None if offset is None else str(ipaddress.IPv4Address(self._first + offset))

    def reserve(self, key: str, address: str) -> bool:
        """Record an address a pod already has; False when it is not this node's to give."""
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        offset = int(ip) - self._first
        if ip not in self._network or not 0 <= offset < self._size or offset in self._used:
            return False
        self.release(key)
        self._by_pod[key] = offset
        self._used.add(offset)
        return True

    def allocate(self, key: str) -> str:
        """The pod's address, a fresh one if it has none; IndexError when the CIDR is full."""
        known = self.address_of(key)
        if known is not None:
            return known
        if len(self._used) >= self._size:
            raise IndexError(f"no free address left in {self._network}")
        # Go round the range rather than reuse the lowest free address, as host-local IPAM
        # does, so that a deleted pod's address is not handed out again at once.
        while self._next in self._used:
            self._next = (self._next + 1) % self._size
        offset = self._next
        self._next = (offset + 1) % self._size
        self._by_pod[key] = offset
        self._used.add(offset)
        return str(ipaddress.IPv4Address(self._first + offset))

    def release(self, key: str) -> None:
        offset = self._by_pod.pop(key, None)
        if offset is not None:
            self._used.discard(offset)
