"""The container runtime: images, pod sandboxes and containers on runc, conmon and CNI.

`cri` is the interface the kubelet uses; everything else here implements it:
`images/` pulls and stores images, `sandbox/` makes a pod's namespaces and network, `oci/`
runs containers under runc and conmon, and `errors` names every failure the kubelet reports.
"""
