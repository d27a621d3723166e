"""Resource quota accounting, shared by the quota admission plugin and the quota controller.

Kubernetes keeps this in `k8s.io/apiserver/pkg/quota/v1` (resource list arithmetic, the
generic object-count evaluator) and `pkg/quota/v1/evaluator/core` (pods, services, claims).
Both halves of quota use the same evaluators: admission charges one object's usage to the
quotas of its namespace as it is created, and the controller recounts every object now and
then, so that what admission charged and what was freed since agree again.

- `resources`: ResourceLists of parsed quantities and the sums, masks and comparisons quota
  makes of them.
- `evaluators`: for each resource, which quota names it uses, which scopes it matches, and
  its usage.
"""
