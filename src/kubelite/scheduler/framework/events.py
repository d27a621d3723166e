"""The cluster events plugins name in `events_to_register()`, as `Resource/Action` strings.

They are the coarse form of kube-scheduler's ClusterEvent: its fine action types
(UpdateNodeLabel, UpdateNodeTaint, UpdateNodeAllocatable, UpdatePodLabel, ...) all fold into
`Update`, and its QueueingHint functions are left out, so a parked pod goes back to be tried on
any event of a kind that could help it. `UnscheduledPod/Update` is an update of the pending pod
itself (Kubernetes registers such updates as `Pod/UpdatePodToleration` and the like, with a hint
that checks the pod is the one refused); `Pod/*` events are about the other, assigned pods.
"""

from __future__ import annotations

NODE_ADD = "Node/Add"
NODE_UPDATE = "Node/Update"
POD_ADD = "Pod/Add"
POD_UPDATE = "Pod/Update"
POD_DELETE = "Pod/Delete"
UNSCHEDULED_POD_UPDATE = "UnscheduledPod/Update"
PERSISTENT_VOLUME_CLAIM_ADD = "PersistentVolumeClaim/Add"
PERSISTENT_VOLUME_CLAIM_UPDATE = "PersistentVolumeClaim/Update"
