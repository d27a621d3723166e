"""What the agent made, remembered under the node's data directory, so that `kubelite reset`
removes exactly that and nothing another node on the same machine made."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubelite.podnet import iproute, masquerade

FILE_NAME = "podnet.json"


@dataclass
class Made:
    """Routes by destination, whether the VTEP and the masquerade chain are ours."""

    routes: list[str] = field(default_factory=list)
    vtep: bool = False
    masquerade: bool = False

    @classmethod
    def load(cls, path: Path) -> Made:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls(
            routes=[str(r) for r in data.get("routes", [])],
            vtep=bool(data.get("vtep")),
            masquerade=bool(data.get("masquerade")),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        temporary.replace(path)


async def teardown(path: Path) -> list[str]:
    """Remove what the file says was made (the VTEP takes its own routes, neighbours and FDB
    entries with it), then the file; the problems come back."""
    made = Made.load(path)
    problems = await iproute.delete_routes(made.routes)
    try:
        if made.vtep:
            await iproute.delete_vtep()
        if made.masquerade:
            await masquerade.remove()
    except (RuntimeError, OSError) as e:
        problems.append(str(e))
    if not problems:
        path.unlink(missing_ok=True)
    return problems
