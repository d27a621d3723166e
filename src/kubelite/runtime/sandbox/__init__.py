"""Pod sandboxes without a pause process: pinned namespaces (`namespaces`), the CNI network
(`cni`), the pod's /etc files and /dev/shm (`podfiles`) and the pod cgroup (`cgroups`).
"""
