"""The semantic rules of pods (Kubernetes' `pkg/apis/core/validation`, the Pod part).

Every rule here is one Kubernetes 1.33 applies, with its field path and its message, so that
kubectl prints the same `The Pod "web" is invalid: ...` lines against kubelite. The entry points:

- `validate_pod_spec`: a PodSpec wherever it appears (pods and the templates of workloads);
- `validate_pod`: a pod's spec plus the rules only pods have (ValidatePodCreate minus metadata,
  which the generic code validates), `validate_pod_create` adds the create-only rules;
- `validate_pod_update`: what may change in a running pod's spec (images, a shorter
  activeDeadlineSeconds, added tolerations, removed scheduling gates); anything else is refused
  with Kubernetes' message and the go-cmp diff it appends (printed by `update_diff`);
- `validate_pod_status_update`: the rules of the status subresource.

The modules follow the sections of the PodSpec: `spec` calls `volumes`, `containers` (which
call `env`, `resources`, `probes` and `security`), `pod_resources` (the pod's own
`spec.resources`) and `tolerations`; `pod`, `update` and
`status` hold the rules of a whole pod; `fields` is what they all share.

Objects are defaulted before they are validated, as in Kubernetes, so "Required" errors for
defaulted fields only appear for values a client explicitly emptied.

Where Kubernetes prints a value through Go's `fmt.Stringer` (resource names, quantities) the value
appears unquoted, and where it prints a Go struct with `%#v` the Go syntax is reproduced; both
are built with `fields._stringer` so that `FieldError` renders them verbatim.
"""

from kubelite.api.validation.pods.env import DOWNWARD_API_LABELS
from kubelite.api.validation.pods.pod import validate_pod, validate_pod_create
from kubelite.api.validation.pods.spec import validate_pod_spec
from kubelite.api.validation.pods.status import validate_pod_status_update
from kubelite.api.validation.pods.update import validate_pod_update

__all__ = [
    "DOWNWARD_API_LABELS",
    "validate_pod",
    "validate_pod_create",
    "validate_pod_spec",
    "validate_pod_status_update",
    "validate_pod_update",
]
