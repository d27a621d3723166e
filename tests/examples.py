"""The seed's example manifests, as the repository keeps them in `examples/`.

`examples/` holds the document's five manifests and their companions byte for byte as
`../shared/seed` has them (the reference copy, which a person who clones the repository does not
have); `tests/unit/test_examples.py` checks the two agree where both are present.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MANIFESTS = EXAMPLES / "manifests"
COMPANIONS = EXAMPLES / "companions"
# The reference copy, beside the repository on the developers' machines and in CI.
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"
