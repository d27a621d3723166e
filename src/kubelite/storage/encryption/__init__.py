"""Encryption of values at rest, as kube-apiserver's `--encryption-provider-config` does it.

- `config`: the EncryptionConfiguration file (apiserver.config.k8s.io/v1), decoded and validated
  with kube-apiserver's messages.
- `transformers`: identity, aescbc, aesgcm and secretbox, writing the bytes Kubernetes writes
  (`k8s:enc:aescbc:v1:<key>:...`), chained per resource as Kubernetes chains them.
- `store`: `EncryptingStore`, a Store around another that transforms the covered resources'
  values on their way in and out.

The API server decides which resource lives under which key (`apiserver/encryption.py` wires
this package to the resources it serves and reloads the file); this package knows keys only.
"""

from kubelite.storage.encryption.config import (
    EncryptionConfigError,
    EncryptionConfiguration,
    load,
    parse,
)
from kubelite.storage.encryption.store import (
    Census,
    EncryptingStore,
    KeyTransformers,
    TransformError,
)

__all__ = [
    "Census",
    "EncryptingStore",
    "EncryptionConfigError",
    "EncryptionConfiguration",
    "KeyTransformers",
    "TransformError",
    "load",
    "parse",
]
