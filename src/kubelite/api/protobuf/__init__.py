"""Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) request bodies.

kubectl 1.32 and later send the objects of their typed clients in this form; `decode_request`
turns one into the JSON dict the rest of the API server reads. Modules: `wire` splits the
protobuf wire format, `tables` holds the generated field numbers of each message, and `decode`
reads the envelope and the typed values.
"""

from kubelite.api.protobuf.decode import MEDIA_TYPE, decode_request

__all__ = ["MEDIA_TYPE", "decode_request"]
