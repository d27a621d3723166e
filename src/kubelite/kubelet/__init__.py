"""The node agent: runs the pods bound to its node on the container runtime and reports them.

`node` registers the Node and keeps its lease and status alive; `status` computes each pod's
status from the pod and what the runtime says of its containers, as Kubernetes' kubelet does.
"""
