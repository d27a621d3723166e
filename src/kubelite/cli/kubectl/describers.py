"""The text of `kubectl describe` for pods, nodes and, generically, any other object.

kubectl builds a description by writing `Label:\\tvalue` lines, indented two spaces per level,
into a tabwriter (padding 2) that it flushes once at the end and once before the Events table
(k8s.io/kubectl/pkg/describe). The functions here write the same lines in the same order, so
that `PrefixWriter` and `TabWriter` produce kubectl's layout, alignment included. They are pure:
the objects (pod, its events, a node's pods and lease) are fetched by `describe`.

Where kubectl releases print a field differently, this follows 1.33, the release kubelite serves,
which newer releases agree with (projected volumes' sources print `Optional: false` where 1.32
printed the pointer behind `SecretOptionalName`/`ConfigMapOptional`).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from kubelite.api import labels, meta, qos
from kubelite.api.quantity import Quantity
from kubelite.cli.output import DESCRIBE_MIN_WIDTH, DESCRIBE_PADDING, TabWriter, go_float

Obj = dict[str, Any]

# describe.go's maxAnnotationLen: longer annotations are wrapped and shortened.
MAX_ANNOTATION_LEN = 140
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"
NONE = "<none>"


class PrefixWriter:
    """describe.go's PrefixWriter: each level indents two spaces, into a tabwriter."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._tab = TabWriter(self._out, min_width=DESCRIBE_MIN_WIDTH, padding=DESCRIBE_PADDING)

    def write(self, level: int, text: str) -> None:
        self._tab.write("  " * level + text)

    def write_line(self, text: str = "") -> None:
        """WriteLine: the text and a newline, without indentation."""
        self._tab.write(text + "\n")

    def flush(self) -> None:
        self._tab.flush()

    def text(self) -> str:
        self._tab.flush()
        return self._out.getvalue()


# --- values -----------------------------------------------------------------------------------


def rfc1123z(timestamp: str | None) -> str:
    """A timestamp as Go's time.RFC1123Z in local time: `Mon, 02 Jan 2006 15:04:05 -0700`."""
    when = meta.parse_time(timestamp or "")
    if when is None:
        # The zero time.Time, which is what Go formats for a missing timestamp.
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return when.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def since(timestamp: str | None, now: dt.datetime) -> str:
    """translateTimestampSince: `5m`, or `<unknown>` for no timestamp."""
    when = meta.parse_time(timestamp or "")
    if when is None:
        return "<unknown>"
    return meta.human_duration((now - when).total_seconds())


def go_value(value: Any) -> str:
    """A JSON value as Go's `%v` prints it from an unstructured object."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    return str(value)


def string_or_none(text: str) -> str:
    return text if text else NONE


def bool_text(value: Any) -> str:
    """printBool: `True` or `False`."""
    return "True" if value else "False"


# --- shared blocks ----------------------------------------------------------------------------


def labels_multiline(
    w: PrefixWriter, title: str, labels: dict[str, str] | None, initial_indent: str = ""
) -> None:
    """printLabelsMultilineWithIndent: `Labels:  a=b` and further pairs aligned below."""
    w.write(0, f"{initial_indent}{title}:\t")
    if not labels:
        w.write_line(NONE)
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, f"{initial_indent}\t")
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: PrefixWriter, title: str, annotations: dict[str, str] | None) -> None:
    """printAnnotationsMultiline; the last-applied configuration is never shown."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.write_line(NONE)
        return
    assert annotations is not None
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for part in value.split("\n"):
                shortened = part
                if len(part) > MAX_ANNOTATION_LEN - 2:
                    shortened = part[: MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {shortened}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: PrefixWriter, title: str, tolerations: list[Obj]) -> None:
    """printTolerationsMultilineWithIndent."""
    w.write(0, f"{title}:\t")
    if not tolerations:
        w.write_line(NONE)
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.get("key", ""))):
        if i:
            w.write(0, "\t")
        key, value, effect = t.get("key", ""), t.get("value", ""), t.get("effect", "")
        text = key
        if value:
            text += f"={value}"
        if effect:
            text += f":{effect}"
        if t.get("operator") == "Exists" and not value:
            text += " op=Exists" if key or effect else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def taint_text(taint: Obj) -> str:
    """Taint.ToString: `key=value:Effect`."""
    key, value, effect = taint.get("key", ""), taint.get("value", ""), taint.get("effect", "")
    if not effect:
        return f"{key}={value}:" if value else key
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def taints_multiline(w: PrefixWriter, title: str, taints: list[Obj]) -> None:
    w.write(0, f"{title}:\t")
    if not taints:
        w.write_line(NONE)
        return
    ordered = sorted(taints, key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    for i, taint in enumerate(ordered):
        if i:
            w.write(0, "\t")
        w.write(0, taint_text(taint) + "\n")


def event_time(event: Obj) -> dt.datetime:
    """The time kubectl sorts events by: series, else lastTimestamp, else eventTime."""
    series = event.get("series") or {}
    for value in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
    ):
        when = meta.parse_time(value or "")
        if when is not None:
            return when
    return dt.datetime.min.replace(tzinfo=dt.UTC)


def sort_events(events: list[Obj]) -> list[Obj]:
    """SortableEvents: oldest first, stable for equal times."""
    return sorted(events, key=event_time)


def event_interval(event: Obj, now: dt.datetime) -> str:
    """The Age / LAST SEEN cell: `5m`, or `2m (x5 over 7m)` for a repeated event."""
    first = since(event.get("eventTime"), now)
    if not event.get("eventTime"):
        first = since(event.get("firstTimestamp"), now)
    series = event.get("series")
    if series:
        return (
            f"{since(series.get('lastObservedTime'), now)} (x{series.get('count', 0)} over {first})"
        )
    count = event.get("count") or 0
    if count > 1:
        return f"{since(event.get('lastTimestamp'), now)} (x{count} over {first})"
    return first


def describe_events(w: PrefixWriter, events: list[Obj] | None, now: dt.datetime) -> None:
    """DescribeEvents; None means events were not asked for (`--show-events=false`)."""
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for event in sort_events(events):
        source = meta.get_path(event, "source", "component") or event.get("reportingComponent", "")
        w.write(
            1,
            f"{event.get('type', '')}\t{event.get('reason', '')}\t{event_interval(event, now)}\t"
            f"{source}\t{(event.get('message') or '').strip()}\n",
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


# --- pods -------------------------------------------------------------------------------------


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
    """DescribeProbe: `http-get http://:8080/healthz delay=0s timeout=1s ...`."""
    attrs = (
        f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 0)}s "
        f"period={probe.get('periodSeconds', 0)}s #success={probe.get('successThreshold', 0)} "
        f"#failure={probe.get('failureThreshold', 0)}"
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
            ref = source["secretKeyRef"]
            optional = "true" if ref.get("optional") else "false"
            w.write(
                3,
                f"{name}:\t<set to the key '{ref.get('key', '')}' in secret "
                f"'{ref.get('name', '')}'>\tOptional: {optional}\n",
            )
        elif source.get("configMapKeyRef") is not None:
            ref = source["configMapKeyRef"]
            optional = "true" if ref.get("optional") else "false"
            w.write(
                3,
                f"{name}:\t<set to the key '{ref.get('key', '')}' of config map "
                f"'{ref.get('name', '')}'>\tOptional: {optional}\n",
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


def _volume_source(w: PrefixWriter, volume: Obj) -> None:
    """The Type line and details of one volume (describeVolumes' switch)."""
    if "hostPath" in volume:
        source = volume["hostPath"] or {}
        w.write(
            2,
            "Type:\tHostPath (bare host directory volume)\n"
            f"    Path:\t{source.get('path', '')}\n"
            f"    HostPathType:\t{source.get('type') or NONE}\n",
        )
    elif "emptyDir" in volume:
        source = volume["emptyDir"] or {}
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
    elif "secret" in volume:
        source = volume["secret"] or {}
        w.write(
            2,
            "Type:\tSecret (a volume populated by a Secret)\n"
            f"    SecretName:\t{source.get('secretName', '')}\n"
            f"    Optional:\t{go_value(bool(source.get('optional')))}\n",
        )
    elif "configMap" in volume:
        source = volume["configMap"] or {}
        w.write(
            2,
            "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
            f"    Name:\t{source.get('name', '')}\n"
            f"    Optional:\t{go_value(bool(source.get('optional')))}\n",
        )
    elif "projected" in volume:
        w.write(
            2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n"
        )
        for source in (volume["projected"] or {}).get("sources") or []:
            if source.get("secret") is not None:
                secret = source["secret"]
                w.write(
                    2,
                    f"SecretName:\t{secret.get('name', '')}\n"
                    f"    Optional:\t{go_value(bool(secret.get('optional')))}\n",
                )
            elif source.get("downwardAPI") is not None:
                w.write(2, "DownwardAPI:\ttrue\n")
            elif source.get("configMap") is not None:
                config_map = source["configMap"]
                w.write(
                    2,
                    f"ConfigMapName:\t{config_map.get('name', '')}\n"
                    f"    Optional:\t{go_value(bool(config_map.get('optional')))}\n",
                )
            elif source.get("serviceAccountToken") is not None:
                seconds = source["serviceAccountToken"].get("expirationSeconds", 0)
                w.write(2, f"TokenExpirationSeconds:\t{seconds}\n")
    elif "persistentVolumeClaim" in volume:
        source = volume["persistentVolumeClaim"] or {}
        w.write(
            2,
            "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
            "namespace)\n"
            f"    ClaimName:\t{source.get('claimName', '')}\n"
            f"    ReadOnly:\t{go_value(bool(source.get('readOnly')))}\n",
        )
    elif "downwardAPI" in volume:
        w.write(
            2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n"
        )
        for item in (volume["downwardAPI"] or {}).get("items") or []:
            if item.get("fieldRef"):
                w.write(3, f"{item['fieldRef'].get('fieldPath', '')} -> {item.get('path', '')}\n")
            if item.get("resourceFieldRef"):
                w.write(
                    3, f"{item['resourceFieldRef'].get('resource', '')} -> {item.get('path', '')}\n"
                )
    elif "nfs" in volume:
        source = volume["nfs"] or {}
        w.write(
            2,
            "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n"
            f"    Server:\t{source.get('server', '')}\n"
            f"    Path:\t{source.get('path', '')}\n"
            f"    ReadOnly:\t{go_value(bool(source.get('readOnly')))}\n",
        )
    elif "csi" in volume:
        source = volume["csi"] or {}
        w.write(
            2,
            "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n"
            f"    Driver:\t{source.get('driver', '')}\n"
            f"    FSType:\t{source.get('fsType', '')}\n"
            f"    ReadOnly:\t{go_value(bool(source.get('readOnly')))}\n",
        )
        attributes = source.get("volumeAttributes") or {}
        w.write(2, "VolumeAttributes:\t")
        if not attributes:
            w.write_line(NONE)
        for i, key in enumerate(sorted(attributes)):
            if i:
                w.write(2, "\t")
            w.write(2, f"{key}={attributes[key]}\n")
    elif "ephemeral" in volume:
        w.write(
            2,
            "Type:\tEphemeralVolume (an inline specification for a volume that gets created and "
            "deleted with the pod)\n",
        )
    elif "image" in volume:
        source = volume["image"] or {}
        w.write(
            2,
            "Type:\tImage (a container image or OCI artifact)\n"
            f"    Reference:\t{source.get('reference', '')}\n"
            f"    PullPolicy:\t{source.get('pullPolicy', '')}\n",
        )
    else:
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


def format_label_selector(selector: Obj) -> str:
    """metav1.FormatLabelSelector: `app=web,tier in (a,b)`, `<none>` when empty."""
    try:
        text = str(labels.from_label_selector(selector))
    except labels.SelectorError:
        return "<error>"
    return text or NONE


def controller_of(obj: Obj) -> str:
    for ref in meta.get_path(obj, "metadata", "ownerReferences", default=[]):
        if ref.get("controller"):
            return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    return ""


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
    labels_multiline(w, "Labels", metadata.get("labels"))
    annotations_multiline(w, "Annotations", metadata.get("annotations"))
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
    controlled_by = controller_of(pod)
    if controlled_by:
        w.write(0, f"Controlled By:\t{controlled_by}\n")
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


# --- nodes ------------------------------------------------------------------------------------


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels."""
    roles: set[str] = set()
    for key, value in meta.labels_of(node).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX) :]:
            roles.add(key[len(NODE_ROLE_PREFIX) :])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _sum_resources(totals: dict[str, Quantity], values: dict[str, Any]) -> None:
    for name, raw in values.items():
        quantity = Quantity.from_json(raw)
        totals[name] = totals[name] + quantity if name in totals else quantity


def pod_requests_and_limits(pod: Obj) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """resourcehelper.PodRequestsAndLimits: regular and sidecar containers add up, each plain
    init container only raises the total to its own needs, and the overhead is added."""
    spec = pod.get("spec") or {}
    totals: list[dict[str, Quantity]] = [{}, {}]
    for index, key in enumerate(("requests", "limits")):
        total = totals[index]
        for container in spec.get("containers") or []:
            _sum_resources(total, meta.get_path(container, "resources", key, default={}))
        sidecars: dict[str, Quantity] = {}
        for container in spec.get("initContainers") or []:
            values = meta.get_path(container, "resources", key, default={})
            if container.get("restartPolicy") == "Always":
                _sum_resources(sidecars, values)
                _sum_resources(total, values)
                continue
            needed = dict(sidecars)
            _sum_resources(needed, values)
            for name, quantity in needed.items():
                if name not in total or total[name] < quantity:
                    total[name] = quantity
        _sum_resources(total, spec.get("overhead") or {})
    return totals[0], totals[1]


def _percent(part: Quantity, whole: Quantity | None, milli: bool) -> int:
    if whole is None:
        return 0
    denominator = whole.milli_value() if milli else whole.value()
    if denominator == 0:
        return 0
    numerator = part.milli_value() if milli else part.value()
    return int(numerator / denominator * 100)


def _node_resources(w: PrefixWriter, node: Obj, pods: list[Obj], now: dt.datetime) -> None:
    """describeNodeResource: the pods on the node and what they request of it."""
    status = node.get("status") or {}
    allocatable = {
        name: Quantity.from_json(raw)
        for name, raw in (status.get("allocatable") or status.get("capacity") or {}).items()
    }
    zero = Quantity.from_json("0")
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    for pod in pods:
        requests, limits = pod_requests_and_limits(pod)
        cells = []
        for values, name, milli in (
            (requests, "cpu", True),
            (limits, "cpu", True),
            (requests, "memory", False),
            (limits, "memory", False),
        ):
            quantity = values.get(name, zero)
            cells.append(f"{quantity} ({_percent(quantity, allocatable.get(name), milli)}%)")
        age = since(meta.get_path(pod, "metadata", "creationTimestamp"), now)
        w.write(
            1,
            f"{meta.namespace_of(pod)}\t{meta.name_of(pod)}\t\t{cells[0]}\t{cells[1]}\t{cells[2]}\t"
            f"{cells[3]}\t{age}\n",
        )
    w.write(
        0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
    )
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for pod in pods:
        pod_requests, pod_limits = pod_requests_and_limits(pod)
        for name, quantity in pod_requests.items():
            requests[name] = requests[name] + quantity if name in requests else quantity
        for name, quantity in pod_limits.items():
            limits[name] = limits[name] + quantity if name in limits else quantity
    for name, milli in (("cpu", True), ("memory", False), ("ephemeral-storage", False)):
        req, lim = requests.get(name, zero), limits.get(name, zero)
        w.write(
            1,
            f"{name}\t{req} ({_percent(req, allocatable.get(name), milli)}%)\t"
            f"{lim} ({_percent(lim, allocatable.get(name), milli)}%)\n",
        )
    standard = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}
    for name in sorted(n for n in allocatable if n.startswith("hugepages-")):
        req, lim = requests.get(name, zero), limits.get(name, zero)
        w.write(
            1,
            f"{name}\t{req} ({_percent(req, allocatable[name], False)}%)\t"
            f"{lim} ({_percent(lim, allocatable[name], False)}%)\n",
        )
    for name in sorted(
        n for n in allocatable if n not in standard and not n.startswith("hugepages-")
    ):
        w.write(1, f"{name}\t{requests.get(name, zero)}\t{limits.get(name, zero)}\n")


def describe_node(
    node: Obj, pods: list[Obj], events: list[Obj] | None, lease: Obj | str, now: dt.datetime
) -> str:
    """describeNode; `lease` is the node's Lease, or the error that fetching it gave."""
    w = PrefixWriter()
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    w.write(0, f"Name:\t{metadata.get('name', '')}\n")
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or NONE}\n")
    labels_multiline(w, "Labels", metadata.get("labels"))
    annotations_multiline(w, "Annotations", metadata.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(metadata.get('creationTimestamp'))}\n")
    taints_multiline(w, "Taints", spec.get("taints") or [])
    w.write(0, f"Unschedulable:\t{go_value(bool(spec.get('unschedulable')))}\n")
    if isinstance(lease, str):
        w.write(0, f"Lease:\tFailed to get lease: {lease}\n")
    else:
        lease_spec = lease.get("spec") or {}
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease_spec.get('holderIdentity') or '<unset>'}\n")
        for key, title in (("acquireTime", "AcquireTime"), ("renewTime", "RenewTime")):
            value = rfc1123z(lease_spec[key]) if lease_spec.get(key) else "<unset>"
            w.write(1, f"{title}:\t{value}\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(
            0,
            "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
        )
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(
                1,
                f"{c.get('type', '')} \t{c.get('status', '')} \t"
                f"{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t"
                f"{c.get('message', '')}\n",
            )
    w.write(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w.write(1, f"{address.get('type', '')}:\t{address.get('address', '')}\n")
    for key, title in (("capacity", "Capacity"), ("allocatable", "Allocatable")):
        values = status.get(key) or {}
        if values:
            w.write(0, f"{title}:\n")
            for name in sorted(values):
                w.write(0, f"  {name}:\t{Quantity.from_json(values[name])}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for key, title in (
        ("machineID", "Machine ID"),
        ("systemUUID", "System UUID"),
        ("bootID", "Boot ID"),
        ("kernelVersion", "Kernel Version"),
        ("osImage", "OS Image"),
        ("operatingSystem", "Operating System"),
        ("architecture", "Architecture"),
        ("containerRuntimeVersion", "Container Runtime Version"),
        ("kubeletVersion", "Kubelet Version"),
        ("kubeProxyVersion", "Kube-Proxy Version"),
    ):
        w.write(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    _node_resources(w, node, pods, now)
    describe_events(w, events, now)
    return w.text()


# --- any other kind ---------------------------------------------------------------------------


def _camel_split(word: str) -> list[str]:
    """github.com/fatih/camelcase.Split: `podIPs` -> `pod`, `I`, `Ps`."""

    def char_class(ch: str) -> int:
        if ch.islower():
            return 1
        if ch.isupper():
            return 2
        if ch.isdigit():
            return 3
        return 4

    runs: list[list[str]] = []
    last = 0
    for ch in word:
        cls = char_class(ch)
        if cls == last:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last = cls
    for i in range(len(runs) - 1):
        if runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(run) for run in runs if run]


_ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}


def smart_label(field: str) -> str:
    """smartLabelFor: `creationTimestamp` -> `Creation Timestamp`, `apiVersion` -> `API Version`."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = []
    for part in _camel_split(field):
        if part == "_":
            continue
        parts.append(part.upper() if part.upper() in _ACRONYMS else part[:1].upper() + part[1:])
    return " ".join(parts)


_GENERIC_SKIP = (
    ".metadata.managedFields",
    ".metadata.name",
    ".metadata.namespace",
    ".metadata.labels",
    ".metadata.annotations",
)


def _unstructured(w: PrefixWriter, level: int, content: Obj, prefix: str) -> None:
    """printUnstructuredContent: every field, sorted, nested by indentation."""
    for key in sorted(content):
        value = content[key]
        path = f"{prefix}.{key}"
        if path in _GENERIC_SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _unstructured(w, level + 1, item, path)
                else:
                    w.write(level + 1, f"{go_value(item)}\n")
        else:
            w.write(level, f"{smart_label(key)}:\t{go_value(value)}\n")


def describe_generic(obj: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """genericDescriber, for kinds without a describer of their own."""
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.name_of(obj)}\n")
    w.write(0, f"Namespace:\t{meta.namespace_of(obj)}\n")
    labels_multiline(w, "Labels", meta.labels_of(obj))
    annotations_multiline(w, "Annotations", meta.get_path(obj, "metadata", "annotations"))
    _unstructured(w, 0, obj, "")
    describe_events(w, events, now)
    return w.text()
