"""Pod Security admission: Kubernetes' PodSecurity plugin and the Pod Security Standards.

- `levels`: the namespace labels, levels (privileged, baseline, restricted) and versions;
- `checks`: what a check answers, and how answers add up to one message;
- `baseline`, `restricted`: the checks of each level, as Kubernetes 1.37 defines them;
- `registry`: which checks run for a level at a version, in what order;
- `admission`: the admission of pods, workloads and namespaces (`PodSecurity`).
"""

from kubelite.apiserver.podsecurity.admission import PodSecurity

__all__ = ["PodSecurity"]
