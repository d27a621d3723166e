"""Reading `-f` manifests: files, directories, stdin, documents, and errors that say where."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tests.examples import MANIFESTS

from kubelite.cli.kubectl.manifests import STDIN, ManifestError, parse_manifests, read_manifests

SEED_BROKEN = MANIFESTS / "simple-pod.yaml"

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"


def test_documents_in_order_and_empty_ones_skipped():
    text = POD.format(name="a") + "---\n---\n" + POD.format(name="b") + "...\n"
    manifests = parse_manifests(text, "f.yaml")
    assert [m.obj["metadata"]["name"] for m in manifests] == ["a", "b"]
    assert {m.source for m in manifests} == {"f.yaml"}


def test_a_list_stands_for_its_items():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Service, metadata: {name: b}}\n"
    )
    assert [m.obj["kind"] for m in parse_manifests(text, "f")] == ["Pod", "Service"]


def test_json_is_read_as_json():
    manifests = parse_manifests(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}', "x"
    )
    assert manifests[0].obj["metadata"]["name"] == "j"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01", "2026-01-01"),
        ("8080:80", "8080:80"),
        ("=", "="),
        ("010", 8),
        ("0x1f", 31),
        ("12", 12),
        ("1.5", 1.5),
        ("true", True),
        ("null", None),
    ],
)
def test_scalars_resolve_as_kubernetes_reads_them(value: str, expected: object):
    text = POD.format(name="a") + f"spec:\n  value: {value}\n"
    assert parse_manifests(text, "f")[0].obj["spec"]["value"] == expected


def test_the_seed_tab_names_file_line_and_column():
    with pytest.raises(ManifestError) as caught:
        read_manifests([str(SEED_BROKEN)])
    message = str(caught.value)
    assert message.startswith(f"error parsing {SEED_BROKEN}: error converting YAML to JSON: yaml: ")
    assert "line 4, column 1: found character that cannot start any token" in message
    assert "tab" in message


def test_lines_count_from_the_top_of_the_file_across_documents():
    # Ten lines; the parser notices the missing value at the end, line 11 (line 6 of the
    # second document).
    text = POD.format(name="a") + "---\n" + POD.format(name="b") + "  bad: [\n"
    with pytest.raises(ManifestError, match=r"error parsing f\.yaml: .*line 11, column 1"):
        parse_manifests(text, "f.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nmetadata: {name: x}\n", 'error validating "s": .*apiVersion not set'),
        ("apiVersion: v1\nmetadata: {name: x}\n", 'error validating "s": .*kind not set'),
        ("- a\n- b\n", 'error validating "s": .*invalid object to validate'),
    ],
)
def test_objects_without_type_are_refused(text: str, message: str):
    with pytest.raises(ManifestError, match=message):
        parse_manifests(text, "s")


def test_directories_read_known_extensions_in_name_order(tmp_path: Path):
    (tmp_path / "b.yaml").write_text(POD.format(name="b"))
    (tmp_path / "a.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}'
    )
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yml").write_text(POD.format(name="c"))
    flat = read_manifests([str(tmp_path)])
    assert [m.obj["metadata"]["name"] for m in flat] == ["a", "b"]
    deep = read_manifests([str(tmp_path)], recursive=True)
    assert [m.obj["metadata"]["name"] for m in deep] == ["a", "b", "c"]
    assert deep[2].source == str(tmp_path / "sub" / "c.yml")


def test_stdin_is_called_stdin():
    manifests = read_manifests(["-"], stdin=io.StringIO(POD.format(name="s")))
    assert manifests[0].source == STDIN


def test_missing_paths_and_empty_directories(tmp_path: Path):
    with pytest.raises(ManifestError, match=r'the path "nope\.yaml" does not exist'):
        read_manifests(["nope.yaml"])
    with pytest.raises(ManifestError, match="recognized file extensions are"):
        read_manifests([str(tmp_path)])
