"""REST storage: the generic store every kind shares, and the storage of each subresource.

`generic` is kubelite's `registry/generic/registry/store.go`; the other modules are the narrow
storages Kubernetes keeps beside a kind's main one (`pkg/registry/core/pod/storage`'s
BindingREST and EvictionREST, the workloads' ScaleREST, ...). None of them speaks HTTP: the
handlers in `kubelite.apiserver.handlers` read requests and call them.

The generic store's names are importable from here, as they were before the package existed.
"""

from kubelite.apiserver.registry.generic import (
    Admission,
    DeleteOptions,
    ListOptions,
    ListPage,
    ResourceStore,
    WatchEvent,
    decode,
    decode_continue,
    encode,
    encode_continue,
    generate_name,
    resource_version_of,
    with_version,
)

__all__ = [
    "Admission",
    "DeleteOptions",
    "ListOptions",
    "ListPage",
    "ResourceStore",
    "WatchEvent",
    "decode",
    "decode_continue",
    "encode",
    "encode_continue",
    "generate_name",
    "resource_version_of",
    "with_version",
]
