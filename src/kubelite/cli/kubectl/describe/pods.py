"""The text of `kubectl describe pod` (describePod), and the pieces of a pod spec that pod
templates print too: containers with their probes, env and mounts, volumes, topology spread.

Where kubectl releases print a field differently, this follows 1.33, the release kubelite serves,
which newer releases agree with (projected volumes' sources print `Optional: false` where 1.32
printed the pointer behind `SecretOptionalName`/`ConfigMapOptional`). Pure functions of
objects: `command` fetches the pod's events and passes them in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from kubelite.api import meta, qos
from kubelite.api.labels import format_label_selector
from kubelite.api.quantity import Quantity
from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.printing import (
    NONE,
    Obj,
    PrefixWriter,
    bool_text,
    controlled_by,
    go_value,
    labels_multiline,
    metadata_labels,
    multiline,
    rfc1123z,
    since,
    string_or_none,
    tolerations_multiline,
)


def resources_block(w: PrefixWriter, resources: Obj | None, level: int) -> None:
    """describeResources: Limits and Requests, each sorted by resource name."""
    if not resources:
        return
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = resources.get(key) or {}
        if values:
            w.write(level, f"{title}:\n")
        for name in sorted(values):
            w.write(level + 1, f"{name}:\t{Quantity.from_json(values[name])}\n")


def _field_value(pod: Obj, path: str) -> str:
    """The value a downward-API fieldRef resolves to (EnvValueRetriever), for the common paths."""
    found = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if found:
        return str(meta.get_path(pod, "metadata", found.group(1), found.group(2), default=""))
    if path in ("status.podIPs", "status.hostIPs"):
        entries = meta.get_path(pod, "status", path.split(".")[1], default=[])
        return ",".join(entry.get("ip", "") for entry in entries)
    return go_value(meta.get_path(pod, *path.split("."), default="")) if path else ""


def _resource_field_value(container: Obj, ref: Obj) -> str:
    """ExtractContainerResourceValue for `limits.cpu`, `requests.memory` and the like."""
    kind, _, name = (ref.get("resource") or "").partition(".")
    raw = meta.get_path(container, "resources", kind, name)
    divisor = Quantity.from_json(ref.get("divisor") or "1")
    # The API returns an unset divisor as "0", which counts as 1 (a core, a byte).
    if divisor.is_zero():
        divisor = Quantity.from_json("1")
    if raw is None:
        return "0"
    value = Quantity.from_json(raw)
    if name == "cpu":
        return str(-(-value.milli_value() // (divisor.milli_value() or 1)))
    return str(-(-value.value() // (divisor.value() or 1)))


def _ports(ports: list[Obj], key: str) -> str:
    return ", ".join(f"{p.get(key, 0)}/{p.get('protocol', 'TCP')}" for p in ports)


def describe_probe(probe: Obj) -> str:
    """DescribeProbe: `http-get http://:8080/healthz delay=0s timeout=1s ...`; the thresholds
    are named as the fields are since kubectl 1.37 (`#success=1` before, which read as a count of
    probes: kubernetes/kubernetes#140015)."""
    attrs = (
        f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 0)}s "
        f"period={probe.get('periodSeconds', 0)}s "
        f"successThreshold={probe.get('successThreshold', 0)} "
        f"failureThreshold={probe.get('failureThreshold', 0)}"
    )
    if "exec" in probe:
        return f"exec {go_value((probe['exec'] or {}).get('command') or [])} {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"] or {}
        scheme = (get.get("scheme") or "HTTP").lower()
        host = get.get("host", "")
        port = str(get.get("port", ""))
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}" if port else host
        return f"http-get {scheme}://{hostport}{get.get('path', '')} {attrs}"
    if "tcpSocket" in probe:
        tcp = probe["tcpSocket"] or {}
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port', '')} {attrs}"
    if "grpc" in probe:
        grpc = probe["grpc"] or {}
        return f"grpc <pod>:{grpc.get('port', 0)} {grpc.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _container_state(w: PrefixWriter, title: str, state: Obj) -> None:
    if "running" in state:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z((state['running'] or {}).get('startedAt'))}\n")
    elif "terminated" in state:
        t = state["terminated"] or {}
        w.write(2, f"{title}:\tTerminated\n")
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if (t.get("signal") or 0) > 0:
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")
        reason = (state.get("waiting") or {}).get("reason")
        if reason:
            w.write(3, f"Reason:\t{reason}\n")


def _container_env(w: PrefixWriter, pod: Obj | None, container: Obj) -> None:
    env_from = container.get("envFrom") or []
    if env_from:
        w.write(2, "Environment Variables from:\n")
        for source in env_from:
            if source.get("configMapRef") is not None:
                kind, ref = "ConfigMap", source["configMapRef"]
            else:
                kind, ref = "Secret", source.get("secretRef") or {}
            optional = "true" if ref.get("optional") else "false"
            if source.get("prefix"):
                kind = f"{kind} with prefix '{source['prefix']}'"
            w.write(3, f"{ref.get('name', '')}\t{kind}\tOptional: {optional}\n")
    env = container.get("env") or []
    w.write(2, "Environment:\t<none>\n" if not env else "Environment:\n")
    for var in env:
        name = var.get("name", "")
        source = var.get("valueFrom")
        if source is None:
            for i, part in enumerate((var.get("value") or "").split("\n")):
                w.write(3, f"{name}:\t{part}\n" if i == 0 else f"\t{part}\n")
        elif source.get("fieldRef") is not None:
            ref = source["fieldRef"]
            # A pod template has no pod to resolve the path against: kubectl leaves it blank.
            value = _field_value(pod, ref.get("fieldPath", "")) if pod is not None else ""
            w.write(
                3, f"{name}:\t{value} ({ref.get('apiVersion', '')}:{ref.get('fieldPath', '')})\n"
            )
        elif source.get("resourceFieldRef") is not None:
            ref = source["resourceFieldRef"]
            value = _resource_field_value(container, ref)
            if value == "0" and ref.get("resource") in ("limits.cpu", "limits.memory"):
                value = "node allocatable"
            w.write(3, f"{name}:\t{value} ({ref.get('resource', '')})\n")
        elif source.get("secretKeyRef") is not None:
            _key_ref(w, name, source["secretKeyRef"], "in secret")
        elif source.get("configMapKeyRef") is not None:
            _key_ref(w, name, source["configMapKeyRef"], "of config map")


def _key_ref(w: PrefixWriter, name: str, ref: Obj, holder: str) -> None:
    """A variable set from one key of a Secret or ConfigMap; `holder` is kubectl's wording for
    the object (`in secret`, `of config map`)."""
    w.write(
        3,
        f"{name}:\t<set to the key '{ref.get('key', '')}' {holder} "
        f"'{ref.get('name', '')}'>\tOptional: {_go_bool(ref.get('optional'))}\n",
    )


def _container_mounts(w: PrefixWriter, container: Obj) -> None:
    mounts = container.get("volumeMounts") or []
    w.write(2, "Mounts:\t<none>\n" if not mounts else "Mounts:\n")
    for mount in sorted(mounts, key=lambda m: m.get("mountPath", "")):
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        w.write(
            3, f"{mount.get('mountPath', '')} from {mount.get('name', '')} ({','.join(flags)})\n"
        )
    devices = container.get("volumeDevices") or []
    if devices:
        w.write(2, "Devices:\n")
        for device in sorted(devices, key=lambda d: d.get("devicePath", "")):
            w.write(3, f"{device.get('devicePath', '')} from {device.get('name', '')}\n")


def describe_containers(
    w: PrefixWriter,
    pod: Obj | None,
    title: str,
    containers: list[Obj],
    statuses: list[Obj],
    space: str = "",
) -> None:
    """describeContainers for one list (init, regular or ephemeral containers).

    A pod template's containers (DescribePodTemplate) come with `pod` None, no statuses and
    `space` two spaces: kubectl then indents the title by `space` and each container's name by
    one more space, and prints downward-API values blank, having no pod to read them from.
    """
    by_name = {s.get("name"): s for s in statuses}
    w.write(0, f"{space}{title}:{' <none>' if not containers else ''}\n")
    name_indent = " " if space else ""
    for container in containers:
        status = by_name.get(container.get("name"))
        w.write(1, f"{name_indent}{container.get('name', '')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
        w.write(2, f"Image:\t{container.get('image', '')}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
        ports = container.get("ports") or []
        container_ports = _ports(ports, "containerPort")
        host_ports = _ports(ports, "hostPort")
        label = "Ports" if "," in container_ports else "Port"
        w.write(2, f"{label}:\t{string_or_none(container_ports)}\n")
        label = "Host Ports" if "," in host_ports else "Host Port"
        w.write(2, f"{label}:\t{string_or_none(host_ports)}\n")
        seccomp = meta.get_path(container, "securityContext", "seccompProfile")
        if seccomp:
            w.write(2, f"SeccompProfile:\t{seccomp.get('type', '')}\n")
            if seccomp.get("type") == "Localhost":
                w.write(3, f"LocalhostProfile:\t{seccomp.get('localhostProfile', '')}\n")
        for key, heading in (("command", "Command"), ("args", "Args")):
            if container.get(key):
                w.write(2, f"{heading}:\n")
                for item in container[key]:
                    for part in item.split("\n"):
                        w.write(3, f"{part}\n")
        if status is not None:
            _container_state(w, "State", status.get("state") or {})
            last = status.get("lastState") or {}
            if last.get("terminated"):
                _container_state(w, "Last State", last)
            w.write(2, f"Ready:\t{bool_text(status.get('ready'))}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
        resources_block(w, container.get("resources"), 2)
        for key, heading in (
            ("livenessProbe", "Liveness"),
            ("readinessProbe", "Readiness"),
            ("startupProbe", "Startup"),
        ):
            if container.get(key):
                w.write(2, f"{heading}:\t{describe_probe(container[key])}\n")
        _container_env(w, pod, container)
        _container_mounts(w, container)


def _text(value: Any) -> str:
    return f"{value}"


def _text_or_none(value: Any) -> str:
    return value or NONE


def _go_bool(value: Any) -> str:
    return go_value(bool(value))


# A source field kubectl prints: (label, JSON field, how it prints, what a missing field is).
SourceField = tuple[str, str, Callable[[Any], str], Any]


def _fields(w: PrefixWriter, type_line: str, source: Obj, fields: tuple[SourceField, ...]) -> None:
    """describeVolumes' usual case: the Type line, then one `    Label:\tvalue` per field."""
    text = f"Type:\t{type_line}\n"
    text += "".join(
        f"    {label}:\t{show(source.get(key, missing))}\n" for label, key, show, missing in fields
    )
    w.write(2, text)


def _empty_dir(w: PrefixWriter, source: Obj) -> None:
    limit = source.get("sizeLimit")
    size = (
        str(Quantity.from_json(limit))
        if limit and Quantity.from_json(limit).sign() > 0
        else "<unset>"
    )
    w.write(
        2,
        "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
        f"    Medium:\t{source.get('medium', '')}\n"
        f"    SizeLimit:\t{size}\n",
    )


def _projected(w: PrefixWriter, projected: Obj) -> None:
    w.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
    for source in projected.get("sources") or []:
        if source.get("secret") is not None:
            _projected_object(w, "SecretName", source["secret"])
        elif source.get("downwardAPI") is not None:
            w.write(2, "DownwardAPI:\ttrue\n")
        elif source.get("configMap") is not None:
            _projected_object(w, "ConfigMapName", source["configMap"])
        elif source.get("serviceAccountToken") is not None:
            seconds = source["serviceAccountToken"].get("expirationSeconds", 0)
            w.write(2, f"TokenExpirationSeconds:\t{seconds}\n")


def _projected_object(w: PrefixWriter, label: str, ref: Obj) -> None:
    """A projected Secret or ConfigMap: its name under `label`, and whether it is optional."""
    w.write(2, f"{label}:\t{ref.get('name', '')}\n    Optional:\t{_go_bool(ref.get('optional'))}\n")


def _downward_api(w: PrefixWriter, source: Obj) -> None:
    w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
    for item in source.get("items") or []:
        if item.get("fieldRef"):
            w.write(3, f"{item['fieldRef'].get('fieldPath', '')} -> {item.get('path', '')}\n")
        if item.get("resourceFieldRef"):
            resource = item["resourceFieldRef"].get("resource", "")
            w.write(3, f"{resource} -> {item.get('path', '')}\n")


def _csi(w: PrefixWriter, source: Obj) -> None:
    _fields(
        w,
        "CSI (a Container Storage Interface (CSI) volume source)",
        source,
        (("Driver", "driver", _text, ""), ("FSType", "fsType", _text, ""), _READ_ONLY),
    )
    attributes = source.get("volumeAttributes") or {}
    pairs = [f"{key}={value}" for key, value in sorted(attributes.items())]
    multiline(w, "VolumeAttributes", pairs, level=2)


_OPTIONAL: SourceField = ("Optional", "optional", _go_bool, None)
_READ_ONLY: SourceField = ("ReadOnly", "readOnly", _go_bool, None)

# describeVolumes' switch, in its order (the first source a volume has is the one shown): each
# source with its Type line and fields, or the function that prints the ones with more to say.
_VOLUME_SOURCES: tuple[
    tuple[str, tuple[str, tuple[SourceField, ...]] | Callable[[PrefixWriter, Obj], None]], ...
] = (
    (
        "hostPath",
        (
            "HostPath (bare host directory volume)",
            (("Path", "path", _text, ""), ("HostPathType", "type", _text_or_none, None)),
        ),
    ),
    ("emptyDir", _empty_dir),
    (
        "secret",
        (
            "Secret (a volume populated by a Secret)",
            (("SecretName", "secretName", _text, ""), _OPTIONAL),
        ),
    ),
    (
        "configMap",
        ("ConfigMap (a volume populated by a ConfigMap)", (("Name", "name", _text, ""), _OPTIONAL)),
    ),
    ("projected", _projected),
    (
        "persistentVolumeClaim",
        (
            "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
            (("ClaimName", "claimName", _text, ""), _READ_ONLY),
        ),
    ),
    ("downwardAPI", _downward_api),
    (
        "nfs",
        (
            "NFS (an NFS mount that lasts the lifetime of a pod)",
            (("Server", "server", _text, ""), ("Path", "path", _text, ""), _READ_ONLY),
        ),
    ),
    ("csi", _csi),
    (
        "ephemeral",
        (
            "EphemeralVolume (an inline specification for a volume that gets created and "
            "deleted with the pod)",
            (),
        ),
    ),
    (
        "image",
        (
            "Image (a container image or OCI artifact)",
            (("Reference", "reference", _text, ""), ("PullPolicy", "pullPolicy", _text, "")),
        ),
    ),
)


def _volume_source(w: PrefixWriter, volume: Obj) -> None:
    """The Type line and details of one volume (describeVolumes' switch)."""
    for key, layout in _VOLUME_SOURCES:
        if key in volume:
            source = volume[key] or {}
            if callable(layout):
                layout(w, source)
            else:
                _fields(w, layout[0], source, layout[1])
            return
    w.write(1, "<unknown>\n")


def describe_volumes(w: PrefixWriter, volumes: list[Obj], space: str = "") -> None:
    """describeVolumes; a pod template's (`space` two spaces) indents as its containers do."""
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    name_indent = " " if space else ""
    for volume in volumes:
        w.write(1, f"{name_indent}{volume.get('name', '')}:\n")
        _volume_source(w, volume)


def topology_spread(w: PrefixWriter, constraints: list[Obj], space: str = "") -> None:
    """describeTopologySpreadConstraints, sorted by topology key; nothing when there are none."""
    if not constraints:
        return
    w.write(0, f"{space}Topology Spread Constraints:\t")
    for i, c in enumerate(sorted(constraints, key=lambda c: c.get("topologyKey", ""))):
        if i:
            w.write(0, f"{space}\t")
        text = (
            f"{c.get('topologyKey', '')}:{c.get('whenUnsatisfiable', '')} when max skew "
            f"{c.get('maxSkew', 0)} is exceeded"
        )
        if c.get("labelSelector") is not None:
            text += f" for selector {format_label_selector(c['labelSelector'])}"
        w.write(0, text + "\n")


def describe_pod(pod: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describePod."""
    w = PrefixWriter()
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    w.write(0, f"Name:\t{metadata.get('name', '')}\n")
    w.write(0, f"Namespace:\t{metadata.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("nodeName"):
        w.write(0, f"Node:\t{spec['nodeName']}/{status.get('hostIP', '')}\n")
    else:
        w.write(0, "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    metadata_labels(w, pod)
    phase = status.get("phase", "")
    if metadata.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {since(metadata['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{metadata.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{phase}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        w.write(0, f"Message:\t{status['message']}\n")
    seccomp = meta.get_path(spec, "securityContext", "seccompProfile")
    if seccomp:
        w.write(0, f"SeccompProfile:\t{seccomp.get('type', '')}\n")
        if seccomp.get("type") == "Localhost":
            w.write(0, f"LocalhostProfile:\t{seccomp.get('localhostProfile', '')}\n")
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    pod_ips = status.get("podIPs") or []
    if not pod_ips:
        w.write(0, "IPs:\t<none>\n")
    else:
        w.write(0, "IPs:\n")
        for entry in pod_ips:
            w.write(1, f"IP:\t{entry.get('ip', '')}\n")
    controlled_by(w, pod)
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("resources") is not None:
        w.write(0, "Resources:\n")
        resources_block(w, spec["resources"], 1)
    if spec.get("initContainers"):
        describe_containers(
            w,
            pod,
            "Init Containers",
            spec["initContainers"],
            status.get("initContainerStatuses") or [],
        )
    describe_containers(
        w, pod, "Containers", spec.get("containers") or [], status.get("containerStatuses") or []
    )
    if spec.get("ephemeralContainers"):
        describe_containers(
            w,
            pod,
            "Ephemeral Containers",
            spec["ephemeralContainers"],
            status.get("ephemeralContainerStatuses") or [],
        )
    conditions = status.get("conditions") or []
    if spec.get("readinessGates"):
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        for gate in spec["readinessGates"]:
            found = next(
                (c for c in conditions if c.get("type") == gate.get("conditionType")), None
            )
            gate_status = found.get("status", "") if found else NONE
            w.write(1, f"{gate.get('conditionType', '')} \t{gate_status} \n")
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for condition in conditions:
            w.write(1, f"{condition.get('type', '')} \t{condition.get('status', '')} \n")
    describe_volumes(w, spec.get("volumes") or [])
    w.write(0, f"QoS Class:\t{qos.qos_class(pod)}\n")
    labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "Tolerations", spec.get("tolerations") or [])
    topology_spread(w, spec.get("topologySpreadConstraints") or [])
    describe_events(w, events, now)
    return w.text()
