"""examples/ is the seed's manifests and companions, unchanged."""

from __future__ import annotations

import pytest
from tests.examples import EXAMPLES, SEED


@pytest.mark.parametrize("folder", ["manifests", "companions"])
def test_examples_are_the_seeds_files_byte_for_byte(folder: str) -> None:
    if not SEED.is_dir():
        pytest.skip(f"the seed's reference copy is not beside the repository ({SEED})")
    seed = {p.name: p.read_bytes() for p in (SEED / folder).glob("*.yaml")}
    ours = {p.name: p.read_bytes() for p in (EXAMPLES / folder).glob("*.yaml")}
    assert seed, f"no manifests in {SEED / folder}"
    assert ours == seed
