"""The words the kubelet writes into a pod's status, spelled exactly as Kubernetes spells them.

Clients match on these strings (`kubectl get pods` prints them, controllers and people grep for
them), so each one names the Kubernetes constant it copies and where that constant lives.
"""

from __future__ import annotations

# --- condition types (core/v1 PodConditionType) ------------------------------------------------

POD_SCHEDULED = "PodScheduled"
POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
POD_INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
POD_READY = "Ready"
DISRUPTION_TARGET = "DisruptionTarget"
# RestartAllContainersOnContainerExits (beta, on since 1.36): True while the kubelet tears the
# pod's containers down for an in-place restart (core/v1 AllContainersRestarting).
ALL_CONTAINERS_RESTARTING = "AllContainersRestarting"

# The conditions the kubelet owns and rewrites on every sync (pkg/kubelet/types/pod_status.go
# PodConditionsByKubelet, with PodReadyToStartContainers behind its feature gate, on since 1.29).
# The resize conditions are the kubelet's too, but kubelite never resizes a pod in place.
CONDITIONS_BY_KUBELET = frozenset(
    {
        POD_SCHEDULED,
        POD_READY,
        POD_INITIALIZED,
        CONTAINERS_READY,
        "PodResizeInProgress",
        "PodResizePending",
        POD_READY_TO_START_CONTAINERS,
        ALL_CONTAINERS_RESTARTING,
    }
)

# --- condition reasons (pkg/kubelet/status/generate.go) ----------------------------------------

UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"
RESTART_ALL_CONTAINERS_STARTED = "RestartAllContainersStarted"
RESTART_ALL_CONTAINERS_STARTED_MESSAGE = "container exited with restart policy rule"

# --- phases (core/v1 PodPhase) -----------------------------------------------------------------

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})

# --- waiting reasons -------------------------------------------------------------------------

# The default waiting reasons of a container the kubelet has not started yet
# (pkg/kubelet/kubelet_pods.go): ContainerCreating in a pod without init containers,
# PodInitializing in one with them.
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"

# Why the kubelet could not start a container, kept in its reason cache and shown as the waiting
# reason until the next attempt (pkg/kubelet/container/sync_result.go).
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
RUN_CONTAINER_ERROR = "RunContainerError"
KILL_CONTAINER_ERROR = "KillContainerError"
VERIFY_NON_ROOT_ERROR = "VerifyNonRootError"
CREATE_POD_SANDBOX_ERROR = "CreatePodSandboxError"

# Image errors (pkg/kubelet/images/types.go).
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"
IMAGE_INSPECT_ERROR = "ImageInspectError"

# Container creation errors (pkg/kubelet/kuberuntime/kuberuntime_container.go).
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
PRE_START_HOOK_ERROR = "PreStartHookError"
POST_START_HOOK_ERROR = "PostStartHookError"

# --- terminated reasons ------------------------------------------------------------------------

# What CRI runtimes (containerd's and CRI-O's) put in an exited container's reason; kubelite's
# runtime says the same, and a status without one gets them here.
COMPLETED = "Completed"
ERROR = "Error"
OOM_KILLED = "OOMKilled"
# Docker's word for a container whose process could not be executed at all; the kubelet skips
# the fall-back to logs for it (kuberuntime_container.go).
CONTAINER_CANNOT_RUN = "ContainerCannotRun"

# A container the runtime no longer knows (pkg/kubelet/container ContainerReasonStatusUnknown),
# and the messages the kubelet gives it in the three places it infers one.
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"
MESSAGE_NOT_LOCATED_TERMINATED = "The container could not be located when the pod was terminated"
MESSAGE_NOT_LOCATED_DELETED = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)
# The exit code the kubelet reports for those containers: killed by SIGKILL, as far as it knows.
EXIT_CODE_UNKNOWN = 137
# A container a RestartAllContainers reset removed: its waiting reason until it starts again,
# and the reason of the lastState it is given (exit 137), with this message for both
# (convertToAPIContainerStatuses).
RESTARTING_ALL_CONTAINERS = "RestartingAllContainers"
MESSAGE_REMOVED_FOR_RESTART_ALL = "The container is removed because RestartAllContainers in place"

# --- pod reasons -------------------------------------------------------------------------------

# The active deadline handler's verdict (pkg/kubelet/active_deadline.go).
DEADLINE_EXCEEDED = "DeadlineExceeded"
DEADLINE_EXCEEDED_MESSAGE = "Pod was active on the node longer than the specified deadline"
# The eviction manager's (pkg/kubelet/eviction/eviction_manager.go Reason).
EVICTED = "Evicted"
