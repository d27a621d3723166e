"""Which manifest of an image index this machine runs: the OCI platform matcher, in small.

Multi-architecture images are an index (or Docker manifest list) of one manifest per platform.
The machine's platform is named the way Go names it (`GOOS`/`GOARCH`, plus a variant for ARM),
as containerd's `platforms.DefaultSpec()` does; `select_manifest` picks the entry that matches,
preferring an exact variant, and never an attestation manifest (`unknown/unknown`).
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from typing import Any

# Python's platform.machine() (the kernel's `uname -m`) to Go's GOARCH and ARM variant, as
# containerd's platforms/cpuinfo and database.go normalize them.
_MACHINE_TO_GO: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""),
    "loongarch64": ("loong64", ""),
}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform (os, architecture, variant), which picks this machine's manifest from an
    image index."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def host_platform() -> Platform:
    """This machine's platform, e.g. linux/amd64 or linux/arm64/v8."""
    machine = _platform.machine().lower()
    arch, variant = _MACHINE_TO_GO.get(machine, (machine, ""))
    return Platform("linux", arch, variant)


def _variant_matches(want: Platform, variant: str) -> bool:
    if variant == want.variant:
        return True
    # containerd treats arm64 without a variant as v8, the only arm64 variant most images have.
    return want.architecture == "arm64" and {variant, want.variant} <= {"", "v8"}


def select_manifest(index: dict[str, Any], want: Platform) -> dict[str, Any] | None:
    """The descriptor in `index["manifests"]` that best fits `want`, or None.

    An exact variant beats a compatible one; entries without a platform count only when the
    index has a single entry, as is usual for indexes written by `oci-archive` tools.
    """
    manifests: list[dict[str, Any]] = index.get("manifests") or []
    best: dict[str, Any] | None = None
    for descriptor in manifests:
        plat = descriptor.get("platform")
        if plat is None:
            if len(manifests) == 1:
                return descriptor
            continue
        if plat.get("os") != want.os or plat.get("architecture") != want.architecture:
            continue
        variant = plat.get("variant", "")
        if variant == want.variant:
            return descriptor
        if best is None and _variant_matches(want, variant):
            best = descriptor
    return best
