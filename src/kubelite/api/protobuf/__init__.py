"""Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) request bodies.

kubectl 1.32 and later send the objects of their typed clients in this form; `decode_request`
turns one into the JSON dict the rest of the API server reads. Modules: `wire` splits the
protobuf wire format, `tables` holds the generated field numbers of each message, and `decode`
reads the envelope and the typed values.
"""

from kubelite.api.protobuf.decode import MEDIA_TYPE, decode_request

# Served kinds whose protobuf form no kubectl build carries, so `tools/gen_protobuf_tables.py`
# cannot read it out of one: kubectl has no Go type for them (it sends them as JSON, read from
# its manifests as unstructured objects). A protobuf body of one is refused with a 400 naming a
# kind the scheme lacks; only a Go program built with kube-aggregator's clientset and asked for
# protobuf would send it.
NOT_IN_KUBECTL = frozenset({"io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService"})

__all__ = ["MEDIA_TYPE", "NOT_IN_KUBECTL", "decode_request"]
