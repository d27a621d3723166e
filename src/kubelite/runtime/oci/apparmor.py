"""Whether the node enforces AppArmor: runc's `apparmor.IsEnabled`, which the kubelet's AppArmor
admission and containerd both ask before they let a profile through."""

from __future__ import annotations

from pathlib import Path

SECURITYFS = Path("/sys/kernel/security/apparmor")
ENABLED_PARAMETER = Path("/sys/module/apparmor/parameters/enabled")


def is_enabled(securityfs: Path = SECURITYFS, parameter: Path = ENABLED_PARAMETER) -> bool:
    """AppArmor's securityfs is mounted and the module says `Y`."""
    if not securityfs.exists():
        return False
    try:
        return parameter.read_text().startswith("Y")
    except OSError:
        return False
