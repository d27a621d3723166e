"""The image builder's parts that need neither apt nor root: names, layers, archives, recipes."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import types
from pathlib import Path

import pytest
from images import debs, oci, publish, recipe
from images.rootfs import RootFS

# --- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:latest", "docker.io/library/nginx:latest"),
        ("busybox:1.28", "docker.io/library/busybox:1.28"),
        ("malexer/twemproxy", "docker.io/malexer/twemproxy:latest"),
        ("bbachin1/adapter-node-server", "docker.io/bbachin1/adapter-node-server:latest"),
        ("127.0.0.1:5000/tools/redis:7", "127.0.0.1:5000/tools/redis:7"),
        ("localhost/app", "localhost/app:latest"),
        ("registry.example/app:v1", "registry.example/app:v1"),
    ],
)
def test_names_are_normalized_as_docker_does(name: str, normalized: str) -> None:
    assert str(oci.normalize(name)) == normalized


@pytest.mark.parametrize("name", ["nginx@sha256:" + "0" * 64, "Nginx", "nginx:"])
def test_names_a_recipe_cannot_build_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        oci.normalize(name)


# --- layers -----------------------------------------------------------------------------------


def _tree() -> RootFS:
    root = RootFS()
    root.write("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
    root.mkdir("tmp", 0o1777)
    root.symlink("bin/sh", "/bin/busybox")
    root.mkdir("data", 0o755, uid=999, gid=999)
    return root


def _members(layer: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return tar.getmembers()


def test_a_layer_is_sorted_with_parents_first_and_one_mtime() -> None:
    members = _members(_tree().layer(mtime=1234))
    names = [m.name for m in members]
    assert names == ["bin", "bin/sh", "data", "tmp", "usr", "usr/bin", "usr/bin/tool"]
    assert {m.mtime for m in members} == {1234}
    assert {(m.uname, m.gname) for m in members} == {("", "")}
    by_name = {m.name: m for m in members}
    assert by_name["tmp"].mode == 0o1777
    assert (by_name["data"].uid, by_name["data"].gid) == (999, 999)
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "/bin/busybox"


def test_the_same_tree_gives_the_same_layer_bytes() -> None:
    assert _tree().layer(mtime=0) == _tree().layer(mtime=0)


def test_a_hard_link_is_written_after_the_file_it_links_to() -> None:
    # As in a .deb: `usr/bin/z` is the file, `usr/bin/a` a hard link to it, but `a` sorts first,
    # so in the layer `a` must carry the content and `z` link to `a`.
    root = RootFS()
    root.write("usr/bin/z", b"binary", 0o755)
    link = tarfile.TarInfo("usr/bin/a")
    link.type, link.linkname = tarfile.LNKTYPE, "usr/bin/z"
    root.add(link)
    members = {m.name: m for m in _members(root.layer(mtime=0))}
    assert members["usr/bin/a"].isreg() and members["usr/bin/a"].size == len(b"binary")
    assert members["usr/bin/z"].islnk() and members["usr/bin/z"].linkname == "usr/bin/a"


def test_dropping_keeps_the_paths_asked_for() -> None:
    root = RootFS()
    root.write("usr/share/doc/nginx/changelog.gz", b"x")
    root.write("usr/share/doc/nginx/copyright", b"licence")
    root.drop(["usr/share/doc/*/*"], keep=["usr/share/doc/*/copyright"])
    assert "usr/share/doc/nginx/copyright" in root
    assert "usr/share/doc/nginx/changelog.gz" not in root


# --- archives ---------------------------------------------------------------------------------


def _archive(refs: list[str]) -> oci.BuiltImage:
    return oci.write_archive(
        _tree().layer(mtime=0),
        {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        [oci.normalize(r) for r in refs],
        mtime=0,
        created="1970-01-01T00:00:00Z",
        created_by="test",
    )


def test_an_archive_is_an_oci_layout_naming_every_reference() -> None:
    built = _archive(["busybox", "busybox:1.28", "busybox:latest"])
    with tarfile.open(fileobj=io.BytesIO(built.archive)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert [m["annotations"] for m in index["manifests"]] == [
        {
            "io.containerd.image.name": "docker.io/library/busybox:latest",
            "org.opencontainers.image.ref.name": "latest",
        },
        {
            "io.containerd.image.name": "docker.io/library/busybox:1.28",
            "org.opencontainers.image.ref.name": "1.28",
        },
    ]
    assert {m["digest"] for m in index["manifests"]} == {built.manifest_digest}
    # Every blob is stored under its own digest.
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert oci.digest(data) == "sha256:" + name.rsplit("/", 1)[1]
    manifest = json.loads(files["blobs/sha256/" + built.manifest_digest[7:]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["rootfs"]["diff_ids"] == [built.diff_id]
    assert config["config"] == {"Cmd": ["sh"], "Env": ["PATH=/bin"]}
    assert manifest["layers"][0]["mediaType"] == oci.MEDIA_TYPE_LAYER_GZIP


def test_the_same_image_gives_the_same_archive_bytes() -> None:
    assert _archive(["nginx"]).archive == _archive(["nginx"]).archive


# --- recipes ----------------------------------------------------------------------------------


def test_every_shipped_recipe_loads_and_names_the_seeds_images() -> None:
    recipes = recipe.load_all()
    names = {str(ref) for r in recipes for ref in r.references}
    assert names == {
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:1.28",
        "docker.io/library/nginx:latest",
        "docker.io/library/redis:latest",
        "docker.io/malexer/twemproxy:latest",
        "docker.io/bbachin1/adapter-node-server:latest",
    }
    for r in recipes:
        for rel, path in r.files():
            first = path.read_bytes()[:2]
            assert (first == b"#!") == bool(path.stat().st_mode & 0o111), f"{r.name}: {rel}"


def test_recipes_are_chosen_by_recipe_or_image_name() -> None:
    recipes = recipe.load_all()
    chosen = recipe.select(["busybox:1.28", "malexer/twemproxy", "nginx", "busybox"], recipes)
    assert [r.name for r in chosen] == ["busybox", "twemproxy", "nginx"]
    with pytest.raises(recipe.RecipeError, match="no recipe builds 'postgres'"):
        recipe.select(["postgres"], recipes)


def test_a_recipes_lists_become_the_configs_sets() -> None:
    r = recipe.parse(
        "web",
        b'names = ["web"]\npackages = ["nginx"]\n'
        b'[config]\nEnv = ["PATH=/bin"]\nExposedPorts = ["80/tcp"]\nVolumes = ["/data"]\n',
    )
    assert r.run_config["ExposedPorts"] == {"80/tcp": {}}
    assert r.run_config["Volumes"] == {"/data": {}}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b'packages = ["x"]\n[config]\nEnv = ["PATH=/bin"]\n', "names: Required value"),
        (b'names = ["x"]\n[config]\nEnv = ["PATH=/bin"]\n', "packages: Required value"),
        (b'names = ["x"]\npackages = ["x"]\n[config]\nEnv = []\n', "PATH is required"),
        (b'names = ["x"]\npackages = ["x"]\n[config]\nEnv = ["PATH=/"]\nCmdd = []\n', "Cmdd"),
        (b'names = ["X"]\npackages = ["x"]\n[config]\nEnv = ["PATH=/"]\n', "not a valid"),
        (b'names = ["x"\n', "recipe 'bad'"),
    ],
)
def test_a_bad_recipe_is_refused_with_the_key_at_fault(source: bytes, message: str) -> None:
    with pytest.raises(recipe.RecipeError, match=message):
        recipe.parse("bad", source)


# --- apt's answers ----------------------------------------------------------------------------

STANZAS = """\
Package: nginx
Version: 1.22.1-9+deb12u11
Architecture: amd64
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), debconf (>= 0.5) | debconf-2.0,
 libpcre2-8-0:any
Pre-Depends: init-system-helpers (>= 1.54~)
Size: 532468
SHA256: 4e27

Package: zlib1g
Version: 1:1.2.13.dfsg-1+deb12u1
Architecture: amd64
"""


def test_apt_cache_stanzas_give_names_versions_and_dependency_groups() -> None:
    found = debs.parse_stanzas(STANZAS)
    nginx = found["nginx"]
    assert nginx.depends == (
        ("init-system-helpers",),
        ("libc6",),
        ("libssl3",),
        ("debconf", "debconf-2.0"),
        ("libpcre2-8-0",),
    )
    assert (nginx.size, nginx.sha256) == (532468, "4e27")
    # apt-get download writes an epoch's colon as %3a.
    assert found["zlib1g"].deb_name == "zlib1g_1%3a1.2.13.dfsg-1+deb12u1_amd64.deb"


# --- loading into the store -------------------------------------------------------------------


def test_load_says_clearly_when_the_image_store_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import kubelite.runtime

    monkeypatch.setitem(sys.modules, "kubelite.runtime.images", None)
    monkeypatch.delattr(kubelite.runtime, "images", raising=False)
    with pytest.raises(publish.PublishError, match="not importable"):
        publish.load(tmp_path / "x.tar", tmp_path)


def test_load_imports_into_the_store_in_the_data_dirs_images(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = []

    class FakeStore:
        def __init__(self, root: Path) -> None:
            self.root = root

        async def __aenter__(self) -> FakeStore:
            return self

        async def __aexit__(self, *exc: object) -> None:
            calls.append("closed")

        async def import_archive(self, path: Path) -> list[str]:
            calls.append((self.root, path))
            return ["sha256:abc"]

    store = types.ModuleType("kubelite.runtime.images")
    store.LocalImageService = FakeStore  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kubelite.runtime.images", store)
    assert publish.load(tmp_path / "nginx.tar", tmp_path / "data") == ["sha256:abc"]
    assert calls == [(tmp_path / "data" / "images", tmp_path / "nginx.tar"), "closed"]
