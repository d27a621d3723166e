"""Role-based access control, as kube-apiserver's RBAC authorizer and registry do it.

- `rules`: what a PolicyRule allows, and whether some rules cover others;
- `policy`: the roles and bindings in memory, kept current by the store's watch;
- `authorizer`: the decision for a request, and Kubernetes' 403 when it is no;
- `escalation`: no one grants through RBAC what they do not hold;
- `bootstrap_policy` and `reconcile`: the default roles and bindings, put in place at start.
"""
