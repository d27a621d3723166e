"""Cluster DNS: the names of the Kubernetes DNS specification, served as CoreDNS serves them.

`kubelite cluster-dns` (started by `kubelite server` beside the API server, reached by pods
through the `kube-dns` Service) answers for `cluster.local` from an in-memory index of Services,
EndpointSlices and Namespaces kept by informers, and forwards every other name to the node's
own resolvers, with a cache.

- `index.py`: the objects, reduced to what answers need, updated on each informer event;
- `zone.py`: the answers for the cluster domain and for reverse lookups of cluster addresses
  (the CoreDNS `kubernetes` plugin's rules);
- `forwarder.py`: upstream resolvers from /etc/resolv.conf and the answer cache;
- `server.py`: UDP and TCP, EDNS0, truncation, malformed queries, and a cache of packed
  answers that keeps repeated queries off the slow path.

The wire format is dnslib's: no DNS packet is put together by hand here.
"""
