"""Embedded etcd, as k3s runs it: `kubelite server --cluster-init` starts Debian's etcd as a
supervised child with TLS from CAs of its own, further servers join it as members, and
`kubelite etcd-snapshot` saves and restores it.

A package apart from `storage` on purpose: the store backend (`kubelite.storage.etcd`) reads and
writes objects in an etcd wherever it runs; this package runs etcd itself (its certificates, its
process, its membership and its snapshots) and hands the API server an endpoint and client
certificates, as an external etcd would be handed over with --datastore-*. It talks to etcd over
gRPC with aetcd's generated stubs (aetcd's own client has no TLS) and never imports `storage`.
"""
