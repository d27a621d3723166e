"""Server-side apply and `metadata.managedFields`, as Kubernetes keeps them.

Two entry points, both pure functions over plain JSON objects and a schema `Node`:

- `apply(live, config, ...)` for `PATCH` with `application/apply-patch+yaml`: merges, prunes,
  detects conflicts (`ApplyConflictError`, rendered by `conflict_status`) and records the
  applier's `Apply` entry;
- `update(old, new, ...)` for every other write (create, update, the other patches): records
  what changed as the writer's `Update` entry, in place.

The model is Kubernetes' own (sigs.k8s.io/structured-merge-diff for field sets, merging and
comparison; apimachinery's pkg/util/managedfields for the entries around them), rebuilt in small
modules: `fieldpath` (paths, sets, fieldsV1), `typed` (what a schema node is to apply),
`fieldset`, `compare`, `merge` and `remove` (the walks over objects), `managers` (the entries),
`conflicts`, `lastapplied` (kubectl's client-side to server-side hand-over), `update`, `apply`,
and `created`, the short way `update` takes for a create: every POST goes through it.
"""

from kubelite.api.managedfields.apply import apply
from kubelite.api.managedfields.conflicts import ApplyConflictError, conflict_status
from kubelite.api.managedfields.update import update

__all__ = ["ApplyConflictError", "apply", "conflict_status", "update"]
