"""The generated field tables: they cover the served kinds, match the schema, are current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from tests import kubectl_builds

from kubelite.api import schema
from kubelite.api.kinds import REGISTRY
from kubelite.api.protobuf import NOT_IN_KUBECTL
from kubelite.api.protobuf.tables import MESSAGES

GENERATOR = Path(__file__).resolve().parents[4] / "tools" / "gen_protobuf_tables.py"
# The generator reads the tables out of this build's Go binary (tools/gen_protobuf_tables.py).
KUBECTL = kubectl_builds.SDK_DIR / "kubectl.1.33"

# Connect subresources (pods/exec, attach, portforward) take their options as query parameters,
# never as a body, and the OpenAPI schema has no definition for them.
_CONNECT_OPTIONS = {"PodAttachOptions", "PodExecOptions", "PodPortForwardOptions"}


def _served_definitions() -> list[str]:
    definitions = schema.load()
    names = ["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
    for resource in REGISTRY.resources:
        kinds = [(resource.group, resource.version, resource.kind)]
        kinds += [
            (sub.group or resource.group, sub.version or resource.version, sub.kind)
            for sub in resource.subresources
        ]
        for group, version, kind in kinds:
            name = definitions.definition_name(group, version, kind)
            if name is None and kind in _CONNECT_OPTIONS:
                continue
            assert name is not None, (group, version, kind)
            if name not in NOT_IN_KUBECTL:
                names.append(name)
    return names


@pytest.mark.parametrize("definition", _served_definitions())
def test_every_served_kind_has_a_table(definition: str) -> None:
    assert definition in MESSAGES


def test_every_field_is_in_the_schema() -> None:
    definitions = schema.load()
    embedded = {
        entry[3:]: owner
        for owner, table in MESSAGES.items()
        for entry in table.values()
        if entry.startswith("...")
    }
    for definition, table in MESSAGES.items():
        # An embedded struct's fields are the fields of the object that embeds it.
        owner = definition
        while owner in embedded:
            owner = embedded[owner]
        properties = definitions.definitions[owner]["properties"]
        for entry in table.values():
            if not entry.startswith("..."):
                assert entry.rstrip("!?") in properties, (definition, entry)


@pytest.mark.skipif(not KUBECTL.exists(), reason=f"needs the kubectl 1.33 binary ({KUBECTL})")
def test_the_tables_are_what_the_generator_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("gen_protobuf_tables", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up in sys.modules.
    monkeypatch.setitem(sys.modules, spec.name, generator)
    spec.loader.exec_module(generator)
    assert generator.tables(generator.Binary(KUBECTL.read_bytes())) == MESSAGES
