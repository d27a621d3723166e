"""The kubelet's own Node: the machine's facts (`machine`), the Node and status they make
(`status`, pure), and the registration, lease and status loop that keeps it alive
(`heartbeat`)."""
