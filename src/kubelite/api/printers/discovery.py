"""`kubectl get endpointslices`: each slice's address type, first ports and first addresses.

As Kubernetes' printEndpointSlice: at most three ports (a port without a number prints its
name, or `*` for "all ports") and three addresses, then ` + N more...`; an empty list prints
`<unset>`. The column descriptions are the ones Kubernetes takes from discovery/v1beta1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj

# printers.go: formatDiscoveryPorts and formatDiscoveryEndpoints show this many.
MAX_SHOWN = 3
UNSET = "<unset>"

ENDPOINT_SLICE_COLUMNS = (
    NAME_COLUMN,
    Column(
        "AddressType",
        description="addressType specifies the type of address carried by this EndpointSlice. "
        "All addresses in this slice must be the same type. This field is immutable after "
        "creation. The following address types are currently supported: * IPv4: Represents an "
        "IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified "
        "Domain Name.",
    ),
    Column(
        "Ports",
        description="ports specifies the list of network ports exposed by each endpoint in this "
        "slice. Each port must have a unique name. When ports is empty, it indicates that there "
        'are no defined ports. When a port is defined with a nil port value, it indicates "all '
        'ports". Each slice may include a maximum of 100 ports.',
    ),
    Column(
        "Endpoints",
        description="endpoints is a list of unique endpoints in this slice. Each slice may "
        "include a maximum of 1000 endpoints.",
    ),
    AGE_COLUMN,
)


def _with_more(items: list[str]) -> str:
    """listWithMoreString: the first three, then how many more."""
    if len(items) > MAX_SHOWN:
        return f"{','.join(items[:MAX_SHOWN])} + {len(items) - MAX_SHOWN} more..."
    return ",".join(items) or UNSET


def format_ports(ports: list[Obj]) -> str:
    shown = []
    for port in ports:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(port["name"])
        else:
            shown.append("*")
    return _with_more(shown)


def format_endpoints(endpoints: list[Obj]) -> str:
    return _with_more([a for e in endpoints for a in e.get("addresses") or ()])


def endpoint_slice_cells(eps: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(eps),
        eps.get("addressType") or "",
        format_ports(eps.get("ports") or []),
        format_endpoints(eps.get("endpoints") or []),
        age_of(eps, now),
    ]


PRINTERS[("discovery.k8s.io", "EndpointSlice")] = Printer(
    ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells
)
