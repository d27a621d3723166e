"""A probe's or hook's port, by number or by the name of one of the container's ports.

Kubernetes' probe.ResolveContainerPort (pkg/probe/util.go): a name is looked up among the
container's `ports`; a name that is not there is tried as a number written as a string (the
message people then see is Go's `strconv.Atoi: parsing "http": invalid syntax`).
"""

from __future__ import annotations

import re

from kubelite.api.types import Obj
from kubelite.kubelet.prober.outcome import ProbeError


def resolve_port(port: int | str | None, container: Obj) -> int:
    """The port number a probe or hook targets; ProbeError when there is none."""
    if isinstance(port, bool) or port is None:
        raise ProbeError(f"intOrString had no kind: {port!r}")
    if isinstance(port, int):
        number = port
    else:
        for declared in container.get("ports") or ():
            if declared.get("name") == port:
                number = int(declared.get("containerPort") or 0)
                break
        else:
            if not re.fullmatch(r"[+-]?[0-9]+", port):
                raise ProbeError(f'strconv.Atoi: parsing "{port}": invalid syntax')
            number = int(port)
    if 0 < number < 65536:
        return number
    raise ProbeError(f"invalid port number: {number}")
