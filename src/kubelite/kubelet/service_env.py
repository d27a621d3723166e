"""The Service environment variables the kubelet gives every container.

Kubernetes' `pkg/kubelet/envvars` (FromServices) and the kubelet's `getServiceEnvVarMap`
(kubelet_pods.go): a container sees, for each Service of its pod's namespace that has a cluster
IP (not headless, not ExternalName), Docker links' variables,

    REDIS_MASTER_SERVICE_HOST=10.43.0.11        REDIS_MASTER_PORT=tcp://10.43.0.11:6379
    REDIS_MASTER_SERVICE_PORT=6379              REDIS_MASTER_PORT_6379_TCP=tcp://10.43.0.11:6379
    REDIS_MASTER_SERVICE_PORT_<PORT NAME>=6379  REDIS_MASTER_PORT_6379_TCP_PROTO=tcp
                                                REDIS_MASTER_PORT_6379_TCP_PORT=6379
                                                REDIS_MASTER_PORT_6379_TCP_ADDR=10.43.0.11

and, whatever `enableServiceLinks` says, those of the `kubernetes` Service of the `default`
namespace (how in-cluster clients find the API server). With `enableServiceLinks: false` only
the latter. A Service of the pod's own namespace named `kubernetes` wins over the default one.

The variables are computed when a container starts and are not part of its spec hash: a Service
created later does not restart anything (Kubernetes' note on the race between the two; DNS is
the way to find Services made after the pod).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubelite.api.types import Obj

# The Services every pod gets variables for, from the default namespace (masterServices).
MASTER_SERVICES = frozenset({"kubernetes"})
DEFAULT_NAMESPACE = "default"


def is_service_ip_set(service: Obj) -> bool:
    """IsServiceIPSet: a cluster IP that is neither empty nor `None` (headless)."""
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def env_var_name(name: str) -> str:
    """makeEnvVariableName: upper case with `-` as `_`. Nothing else needs changing: Service
    names are DNS-1035 labels, port names IANA service names (a port named `8083` gives
    `..._SERVICE_PORT_8083`)."""
    return name.replace("-", "_").upper()


def from_services(services: Iterable[Obj]) -> list[tuple[str, str]]:
    """FromServices: every Service's variables, in the order envvars_test.go expects."""
    result: list[tuple[str, str]] = []
    for service in services:
        if not is_service_ip_set(service):
            continue
        spec = service.get("spec") or {}
        ports = spec.get("ports") or []
        if not ports:
            continue
        cluster_ip = spec["clusterIP"]
        prefix = env_var_name(service["metadata"]["name"])
        result.append((f"{prefix}_SERVICE_HOST", cluster_ip))
        # The first port keeps the unnamed, backwards-compatible variable.
        result.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
        for port in ports:
            if port.get("name"):
                name = f"{prefix}_SERVICE_PORT_{env_var_name(port['name'])}"
                result.append((name, str(port.get("port"))))
        result.extend(_link_variables(prefix, cluster_ip, ports))
    return result


def _link_variables(prefix: str, cluster_ip: str, ports: list[Obj]) -> list[tuple[str, str]]:
    """makeLinkVariables: Docker links' `<NAME>_PORT...` variables, the first port special."""
    result: list[tuple[str, str]] = []
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        number = port.get("port")
        url = f"{protocol.lower()}://{cluster_ip}:{number}"
        if index == 0:
            result.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
        result += [
            (port_prefix, url),
            (f"{port_prefix}_PROTO", protocol.lower()),
            (f"{port_prefix}_PORT", str(number)),
            (f"{port_prefix}_ADDR", cluster_ip),
        ]
    return result


def service_env(
    services: Iterable[Obj], namespace: str, enable_service_links: bool
) -> dict[str, str]:
    """getServiceEnvVarMap: the variables a pod of `namespace` sees, given the Services the
    kubelet knows (it may pass all of them, or those of `namespace` and `default`).

    Kubernetes builds this as a Go map; here the Services are taken in name order, so that a
    container's environment is the same on every start."""
    chosen: dict[str, Obj] = {}
    for service in services:
        if not is_service_ip_set(service):
            continue
        md = service["metadata"]
        name = md["name"]
        if md.get("namespace") == DEFAULT_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, service)
        elif md.get("namespace") == namespace and enable_service_links:
            chosen[name] = service
    return dict(from_services(chosen[name] for name in sorted(chosen)))
