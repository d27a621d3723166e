"""A pod's whole v1 PodStatus, as the kubelet computes it and PATCHes it to the API server.

This strings together what Kubernetes spreads over three places:

- `generateAPIPodStatus` (pkg/kubelet/kubelet_pods.go): container statuses, phase (a terminal
  phase is never left), reason and message, probe results, conditions, pod and host IPs;
- the status manager's `updateStatusInternal`: lastTransitionTime kept while a condition's
  status holds, startTime set once, termination messages cut to size;
- its `mergePodStatus`: the API server's conditions that the kubelet does not own go first and
  stay as they are, the kubelet's follow in the order it writes them (PodReadyToStartContainers,
  Initialized, Ready, ContainersReady, PodScheduled).

`terminate_pod_status` is the status manager's `TerminatePod`: the last word on a pod whose
containers are gone.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress

from kubelite.api import meta, qos
from kubelite.api import pods as podutil
from kubelite.api import restart_rules as rr
from kubelite.api.types import Obj
from kubelite.kubelet.status import conditions as cond
from kubelite.kubelet.status import containers, pod_resources, reasons, resources, restart_all
from kubelite.kubelet.status.observed import PodRuntimeState
from kubelite.kubelet.status.phase import get_phase
from kubelite.runtime import cri


def generate_pod_status(
    pod: Obj,
    observed: PodRuntimeState,
    *,
    now: dt.datetime,
    old_status: Obj | None = None,
) -> Obj:
    """The status the kubelet would send for `pod` now.

    `pod` is the pod as the API server has it (its `status` included). `old_status` is the
    status the kubelet itself last computed for it, when it has one (Kubernetes' status manager
    cache); without it the pod's own status is the previous one. The result is a new dict;
    neither input is changed.
    """
    api_status = podutil.status_of(pod)
    old = old_status if old_status is not None else api_status
    spec = podutil.spec_of(pod)

    status: Obj = {}
    pod_ips = _pod_ips(observed, old)
    # RestartAllContainers: only pods with such a rule have the condition, and only while a
    # reset is under way are vanished containers taken as removed by it.
    could_restart_all = rr.all_containers_could_restart(spec)
    restarting = could_restart_all and restart_all.should_all_containers_restart(pod, observed, old)

    container_statuses = containers.convert_container_statuses(
        pod,
        observed,
        old.get("containerStatuses") or [],
        spec.get("containers") or [],
        is_init=False,
        pod_restarting=restarting,
    )
    init_statuses = containers.convert_container_statuses(
        pod,
        observed,
        old.get("initContainerStatuses") or [],
        spec.get("initContainers") or [],
        is_init=True,
        pod_restarting=restarting,
    )
    ephemeral_statuses = containers.convert_container_statuses(
        pod,
        observed,
        old.get("ephemeralContainerStatuses") or [],
        spec.get("ephemeralContainers") or [],
        is_init=False,
    )

    phase = get_phase(
        pod, container_statuses + init_statuses, pod_is_terminal=observed.pod_is_terminal
    )
    # A pod never leaves Succeeded or Failed, whichever of the kubelet and the API server
    # recorded it first.
    if phase not in reasons.TERMINAL_PHASES:
        if old.get("phase") in reasons.TERMINAL_PHASES:
            phase = old["phase"]
        elif api_status.get("phase") in reasons.TERMINAL_PHASES:
            phase = api_status["phase"]
    reason = message = ""
    if phase == old.get("phase"):
        # The reason and message belong to the phase they were given with.
        reason = old.get("reason") or api_status.get("reason") or ""
        message = old.get("message") or api_status.get("message") or ""
    if observed.eviction is not None:
        phase = reasons.FAILED
        reason, message = observed.eviction.reason, observed.eviction.message
    if api_status.get("phase") in reasons.TERMINAL_PHASES:
        phase = api_status["phase"]

    containers.apply_probe_results(pod, observed, container_statuses, init_statuses)
    if observed.allocated:
        current = {name: observed.container(name).current for name in observed.allocated}
        previous = [
            *(old.get("initContainerStatuses") or ()),
            *(old.get("containerStatuses") or ()),
        ]
        resources.apply_resources(
            init_statuses + container_statuses, observed.allocated, current, previous
        )

    conditions = _other_conditions(api_status, old, phase)
    # The resize conditions follow the others' and precede the kubelet's computed ones
    # (generateAPIPodStatus); a pod in a terminal phase has none.
    if phase not in reasons.TERMINAL_PHASES:
        conditions.extend(copy.deepcopy(c) for c in observed.resize_conditions)
    all_statuses = init_statuses + container_statuses
    conditions.append(cond.pod_ready_to_start_containers(pod, observed.sandboxes))
    conditions.append(cond.pod_initialized(pod, all_statuses, phase, old.get("conditions") or []))
    conditions.append(cond.pod_ready(pod, conditions, all_statuses, phase))
    conditions.append(cond.containers_ready(pod, all_statuses, phase))
    conditions.append(cond.condition(reasons.POD_SCHEDULED, cond.TRUE))
    if could_restart_all:
        conditions.append(restart_all.restarting_condition(pod, observed, old, phase))
    cond.update_last_transition_times(conditions, old.get("conditions") or [], now)
    generation = meta.metadata(pod).get("generation")
    if generation:
        cond.observe_generation(conditions, generation)
        status["observedGeneration"] = generation

    status["phase"] = phase
    status["conditions"] = conditions
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    host_ips = list(observed.host_ips[:2])
    if host_ips:
        status["hostIP"] = host_ips[0]
        status["hostIPs"] = [{"ip": ip} for ip in host_ips]
        if spec.get("hostNetwork"):
            pod_ips = _host_network_pod_ips(pod_ips, host_ips)
    if pod_ips:
        status["podIP"] = pod_ips[0]
        status["podIPs"] = [{"ip": ip} for ip in pod_ips]
    status["startTime"] = (
        old.get("startTime") or api_status.get("startTime") or meta.format_time(now)
    )
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if container_statuses:
        status["containerStatuses"] = container_statuses
    status["qosClass"] = qos.qos_class(pod)
    if ephemeral_statuses:
        status["ephemeralContainerStatuses"] = ephemeral_statuses
    if observed.allocated_pod is not None and spec.get("resources"):
        # The pod's own resources, as applied and as allocated (InPlacePodLevelResources-
        # VerticalScaling, on since 1.36): only for a pod that sets them, as the 1.37 API
        # documents PodStatus.resources ("if pod-level requests or limits are set").
        status["resources"] = pod_resources.status_resources(
            observed.allocated_pod, observed.pod_cgroup, old
        )
        allocated = pod_resources.allocated_resources(observed.allocated_pod)
        if allocated:
            status["allocatedResources"] = allocated
    containers.normalize_messages(pod, init_statuses + container_statuses + ephemeral_statuses)
    return status


def terminate_pod_status(pod: Obj, *, now: dt.datetime, old_status: Obj | None = None) -> Obj:
    """TerminatePod: the final status of a pod whose containers the kubelet will never see again.

    Containers still shown as not terminated are recorded as ContainerStatusUnknown (exit 137),
    app containers only if the pod ever initialized, init containers up to the last one that
    tried to start; a pod still Pending or Running becomes Failed.
    """
    api_status = podutil.status_of(pod)
    old = old_status if old_status is not None else api_status
    status = copy.deepcopy(old)
    gone = {"terminated": _container_gone()}

    if _has_pod_initialized(pod):
        for container in status.get("containerStatuses") or []:
            if podutil.state_of(container, "terminated") is None:
                container["state"] = copy.deepcopy(gone)
    for container in _tried_to_start(status.get("initContainerStatuses") or []):
        if podutil.state_of(container, "terminated") is None:
            container["state"] = copy.deepcopy(gone)

    if status.get("phase") not in reasons.TERMINAL_PHASES:
        status["phase"] = reasons.FAILED

    conditions = status.get("conditions") or []
    cond.update_last_transition_times(conditions, old.get("conditions") or [], now)
    if not status.get("startTime"):
        status["startTime"] = api_status.get("startTime") or meta.format_time(now)
    containers.normalize_messages(
        pod, (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    )
    return status


def illegal_container_transition(old_status: Obj, new_status: Obj, spec: Obj) -> str:
    """checkContainerStateTransition: why `new_status` must not replace `old_status`, or "".

    A container that terminated for good (its restart rules, own restartPolicy and the pod's
    restartPolicy all say its exit code ends it: ContainerShouldRestart) can never run again; a
    status saying otherwise is a kubelet bug, and the status manager drops the update rather
    than send it. In a pod with a RestartAllContainers rule any container may run again.
    """
    if rr.all_containers_could_restart(spec):
        return ""
    for key, containers_key in (
        ("containerStatuses", "containers"),
        ("initContainerStatuses", "initContainers"),
    ):
        new_statuses = new_status.get(key) or []
        specs = {c.get("name"): c for c in spec.get(containers_key) or []}
        for old in old_status.get(key) or []:
            terminated = podutil.state_of(old, "terminated")
            if terminated is None:
                continue
            container = specs.get(old.get("name"))
            if container is not None and rr.container_should_restart(
                container, spec, terminated.get("exitCode", 0)
            ):
                continue
            new = podutil.find_status(new_statuses, old.get("name", ""))
            if new is not None and podutil.state_of(new, "terminated") is None:
                return (
                    f"terminated container {new['name']} attempted illegal transition to "
                    "non-terminated state"
                )
    return ""


def is_pod_condition_by_kubelet(type_: str) -> bool:
    """PodConditionByKubelet: the kubelet rewrites this condition on every sync."""
    return type_ in reasons.CONDITIONS_BY_KUBELET


def _other_conditions(api_status: Obj, old: Obj, phase: str) -> list[Obj]:
    """The conditions others own, as the API server has them (mergePodStatus).

    DisruptionTarget is shared: the kubelet adds its own once the pod goes terminal.
    """
    result = [
        copy.deepcopy(c)
        for c in api_status.get("conditions") or []
        if not is_pod_condition_by_kubelet(c.get("type", ""))
    ]
    disruption = meta.find_condition(old.get("conditions"), reasons.DISRUPTION_TARGET)
    going_terminal = (
        api_status.get("phase") not in reasons.TERMINAL_PHASES and phase in reasons.TERMINAL_PHASES
    )
    if disruption is not None and going_terminal:
        for index, existing in enumerate(result):
            if existing.get("type") == reasons.DISRUPTION_TARGET:
                result[index] = copy.deepcopy(disruption)
                break
        else:
            result.append(copy.deepcopy(disruption))
    return result


def _pod_ips(observed: PodRuntimeState, old: Obj) -> list[str]:
    """The pod's IPs: the ready sandbox's, one per family, the node's family first (sortPodIPs).

    Once no sandbox is ready the last known IPs stay, as the PLEG keeps them (getPodIPs): a pod
    that has finished still shows the address it had.
    """
    sandboxes = observed.sandboxes
    found: list[str] = []
    if sandboxes and sandboxes[0].state is cri.PodSandboxState.SANDBOX_READY:
        found = [ip for ip in (sandboxes[0].ip, *sandboxes[0].additional_ips) if ip]
    if not found:
        if any(s.state is cri.PodSandboxState.SANDBOX_READY for s in sandboxes):
            return []
        return [p["ip"] for p in old.get("podIPs") or [] if p.get("ip")]
    primary = (_family(observed.host_ips[0]) if observed.host_ips else 0) or 4
    result = []
    for family in (primary, 10 - primary):
        for ip in found:
            if _family(ip) == family:
                result.append(str(ipaddress.ip_address(ip)))
                break
    return result


def _host_network_pod_ips(pod_ips: list[str], host_ips: list[str]) -> list[str]:
    """A host-network pod has the node's IPs, fixed once set (the secondary added later)."""
    if not pod_ips:
        pod_ips = [host_ips[0]]
    if len(host_ips) == 2 and len(pod_ips) == 1 and _family(pod_ips[0]) != _family(host_ips[1]):
        pod_ips = [*pod_ips, host_ips[1]]
    return pod_ips


def _family(ip: str) -> int:
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return 0


def _container_gone() -> Obj:
    return {
        "exitCode": reasons.EXIT_CODE_UNKNOWN,
        "reason": reasons.CONTAINER_STATUS_UNKNOWN,
        "message": reasons.MESSAGE_NOT_LOCATED_TERMINATED,
        "startedAt": None,
        "finishedAt": None,
    }


def _has_pod_initialized(pod: Obj) -> bool:
    """hasPodInitialized: is there evidence, in the API status, that app containers started?"""
    spec = podutil.spec_of(pod)
    if not spec.get("initContainers"):
        return True
    status = podutil.status_of(pod)
    for container in status.get("containerStatuses") or []:
        if (
            podutil.last_terminated(container) is not None
            or podutil.state_of(container, "waiting") is None
        ):
            return True
    init = status.get("initContainerStatuses") or []
    if init:
        last = init[-1]
        for terminated in (podutil.last_terminated(last), podutil.state_of(last, "terminated")):
            if terminated is not None and terminated.get("exitCode", 0) == 0:
                return True
    return False


def _tried_to_start(statuses: list[Obj]) -> list[Obj]:
    """initializedContainers: all but the trailing init containers that never left waiting
    (at least the first one)."""
    for index in range(len(statuses) - 1, -1, -1):
        current = statuses[index]
        if (
            podutil.state_of(current, "waiting") is None
            or podutil.last_terminated(current) is not None
        ):
            return statuses[: index + 1]
    return statuses[:1]
