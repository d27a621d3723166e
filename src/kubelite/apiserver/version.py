"""`/version`: the Kubernetes release kubelite implements, in `version.Info`'s shape."""

from __future__ import annotations

import platform
import sys
from typing import Any

from kubelite.api.schema import KUBERNETES_VERSION

# The patch level of the served release: kubectl only reads major and minor.
_PATCH = 0


def version_info() -> dict[str, Any]:
    major, minor = KUBERNETES_VERSION.split(".")
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": f"v{KUBERNETES_VERSION}.{_PATCH}+kubelite",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "compiler": "cpython",
        "platform": f"{sys.platform}/{arch}",
    }
