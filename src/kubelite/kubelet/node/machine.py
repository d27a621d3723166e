"""What the kubelet reads about its machine: the facts its Node reports.

The real kubelet gets these from cAdvisor (`MachineInfo`) and the OS; here they come straight
from /proc, /sys, /etc and statvfs. Reading is split from the pure node shapes in `status.py`
so that those can be tested with any machine, and so that a node's reported status changes
only when a fact does.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

# Go's GOARCH names for Python's platform.machine(): nodes report these (kubernetes.io/arch).
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


@dataclass(frozen=True)
class MachineInfo:
    """The machine as the kubelet reports it in Node status."""

    num_cores: int
    memory_bytes: int
    # The filesystem that holds the kubelet's root directory: ephemeral-storage.
    filesystem_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str
    hostname: str
    # Huge page size in bytes -> pages reserved at boot (all zero on most machines).
    hugepages: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """What the eviction manager's default signals read: free memory and disk."""

    memory_available_bytes: int
    filesystem_available_bytes: int
    filesystem_capacity_bytes: int


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def meminfo(text: str | None = None) -> dict[str, int]:
    """/proc/meminfo as bytes by key (`MemTotal`, `MemAvailable`, ...)."""
    values: dict[str, int] = {}
    for line in (text if text is not None else _read("/proc/meminfo")).splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if not parts:
            continue
        number = int(parts[0])
        values[key.strip()] = number * 1024 if parts[1:] == ["kB"] else number
    return values


def os_image(text: str | None = None) -> str:
    """PRETTY_NAME of /etc/os-release, as the kubelet reports osImage."""
    content = text if text is not None else _read("/etc/os-release")
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', content, re.MULTILINE)
    return match.group(1) if match else "Linux"


def architecture() -> str:
    machine = platform.machine().lower()
    return _GOARCH.get(machine, machine)


def _hugepages() -> dict[int, int]:
    found: dict[int, int] = {}
    base = Path("/sys/kernel/mm/hugepages")
    if not base.is_dir():
        return found
    for entry in base.iterdir():
        match = re.fullmatch(r"hugepages-(\d+)kB", entry.name)
        if match:
            pages = int(_read(str(entry / "nr_hugepages"), "0") or 0)
            found[int(match.group(1)) * 1024] = pages
    return found


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def read_machine(root_dir: Path) -> MachineInfo:
    """This machine's facts; `root_dir` is the kubelet's data directory (its filesystem is
    the node's ephemeral storage)."""
    stat = os.statvfs(root_dir)
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    product_uuid = _read("/sys/class/dmi/id/product_uuid")
    if not product_uuid and machine_id:
        # Virtual machines without DMI: the machine ID, in a UUID's spelling.
        product_uuid = str(uuid.UUID(machine_id))
    return MachineInfo(
        num_cores=_cores(),
        memory_bytes=meminfo().get("MemTotal", 0),
        filesystem_bytes=stat.f_blocks * stat.f_frsize,
        machine_id=machine_id,
        system_uuid=product_uuid,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=os_image(),
        architecture=architecture(),
        hostname=socket.gethostname().lower(),
        hugepages=_hugepages(),
    )


def read_usage(root_dir: Path) -> Usage:
    """The free resources now, for the node's pressure conditions."""
    stat = os.statvfs(root_dir)
    return Usage(
        memory_available_bytes=meminfo().get("MemAvailable", 0),
        filesystem_available_bytes=stat.f_bavail * stat.f_frsize,
        filesystem_capacity_bytes=stat.f_blocks * stat.f_frsize,
    )


def internal_ip() -> str:
    """The address this machine uses to reach others: the source of its default route.

    A UDP socket `connect` only picks the route; it sends nothing. Falls back to loopback on
    a machine with no route at all.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # TEST-NET-1 (RFC 5737): any routable address works, none is contacted.
            probe.connect(("192.0.2.1", 9))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
