"""The pod the image volume tests make, both the API's and the node's
(tests/integration/test_kubectl_image_volume.py, tests/e2e/kubelet/test_image_volume.py): one
container that mounts the volume and one that does not, so that a test can tell what the volume
does to the first alone."""

from __future__ import annotations

import json
from typing import Any


def image_pod(name: str, volume: dict[str, Any], *, mounts: list[dict] | None = None) -> str:
    """The pod `name` as JSON, its volume `content` the source `volume`; `reader` mounts it at
    /vol unless `mounts` says otherwise, `other` runs beside it without it."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "reader",
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "volumeMounts": mounts
                        if mounts is not None
                        else [{"name": "content", "mountPath": "/vol"}],
                    },
                    {"name": "other", "image": "busybox", "command": ["sleep", "3600"]},
                ],
                "volumes": [{"name": "content", **volume}],
            },
        }
    )
