"""Build the seed's example images from Debian packages: `python -m images.build [IMAGE ...]`.

For each recipe (all of them, or the ones named by recipe or image name) this resolves the Debian
packages, downloads the missing .debs into the cache, assembles the root filesystem in memory and
writes a one-layer OCI archive to `--out` (`<recipe>.tar`). Built archives are cached under a key
made of the recipe, its files, the exact package versions and this builder's own source, and the
package versions are cached while apt's lists stay the same, so a second run only copies archives
out of the cache: well under a second, no apt, no download. Building needs no root.

`--load --data-dir D` hands each archive to kubelite's image store; `--push REGISTRY` copies it to
a registry (`127.0.0.1:5000`) under its Docker Hub path (`library/nginx:latest`), which is where a
mirror of docker.io keeps it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import debs, oci, publish, skeleton
from .recipe import Recipe, RecipeError, load_all, select
from .rootfs import DROPPED_PATHS, KEPT_PATHS, RootFS

# Where .debs and built archives are kept between runs, and the variable that moves it.
CACHE_ENV = "KUBELITE_IMAGE_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "kubelite" / "images"
DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "out"
# reproducible-builds.org's variable for "the time this build claims"; every mtime and the
# config's `created` are set to it, so equal inputs give equal digests.
SOURCE_DATE_EPOCH_ENV = "SOURCE_DATE_EPOCH"

_BUILDER_SOURCES = ("build.py", "debs.py", "oci.py", "recipe.py", "rootfs.py", "skeleton.py")


@dataclass(frozen=True)
class Built:
    """One image written to the output directory."""

    recipe: str
    references: list[str]
    archive: Path
    manifest_digest: str
    size: int  # bytes of the archive
    cached: bool
    seconds: float


def cache_dir_from_env() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)


def build_epoch() -> int:
    return int(os.environ.get(SOURCE_DATE_EPOCH_ENV, "0"))


def _builder_fingerprint() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in _BUILDER_SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def cache_key(recipe: Recipe, packages: list[debs.Package], epoch: int) -> str:
    """What the built archive depends on: recipe, its files, package versions, builder, epoch."""
    return hashlib.sha256(
        oci.canonical_json(
            {
                "builder": _builder_fingerprint(),
                "recipe": recipe.fingerprint(),
                "packages": [[p.name, p.version, p.architecture, p.sha256] for p in packages],
                "epoch": epoch,
            }
        )
    ).hexdigest()


def assemble(recipe: Recipe, packages: list[debs.Package], deb_paths: dict[str, Path]) -> RootFS:
    """The image's file tree: packages, trimmed, then the skeleton and the recipe's additions."""
    root = RootFS()
    for package in packages:
        for info, data in debs.members(deb_paths[package.name]):
            root.add(info, data)
    root.drop(DROPPED_PATHS + recipe.drop, keep=KEPT_PATHS)
    skeleton.lay_down(root, users=recipe.users, groups=recipe.groups)
    passwd = skeleton.BASE_PASSWD + recipe.users
    for directory in recipe.dirs:
        uid, gid = skeleton.lookup(passwd, directory.owner)
        root.mkdir(directory.path, directory.mode, uid, gid)
    if recipe.busybox_links:
        root.install_busybox_links(recipe.busybox_links)
    for rel, path in recipe.files():
        root.write(rel, path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644)
    return root


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)
    os.replace(f.name, path)


def _copy_atomically(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dst.parent, prefix=f".{dst.name}.", delete=False) as f:
        pass
    shutil.copyfile(src, f.name)
    os.replace(f.name, dst)


def build(recipe: Recipe, *, cache_dir: Path, out_dir: Path) -> Built:
    """Build one recipe (or take it from the cache) and put `<recipe>.tar` in `out_dir`."""
    started = time.monotonic()
    epoch = build_epoch()
    packages = debs.resolve_cached(
        recipe.packages, skip=recipe.skip, cache_dir=cache_dir / "resolved"
    )
    key = cache_key(recipe, packages, epoch)
    built_dir = cache_dir / "built"
    archive = built_dir / f"{recipe.name}-{key[:24]}.tar"
    meta_path = archive.with_suffix(".json")
    cached = archive.exists() and meta_path.exists()
    if not cached:
        deb_paths = debs.fetch(packages, cache_dir / "debs")
        root = assemble(recipe, packages, deb_paths)
        roots = ", ".join(f"{p.name} {p.version}" for p in packages if p.name in recipe.packages)
        image = oci.write_archive(
            root.layer(epoch),
            recipe.run_config,
            recipe.references,
            mtime=epoch,
            created=datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            created_by=f"kubelite images/recipes/{recipe.name}.toml: {roots}",
        )
        _write_atomically(archive, image.archive)
        meta = {"manifest_digest": image.manifest_digest, "packages": len(packages)}
        _write_atomically(meta_path, json.dumps(meta).encode())
        # Earlier builds of this recipe are stale now: keep the cache from growing.
        stale = re.compile(re.escape(recipe.name) + r"-[0-9a-f]{24}\.(tar|json)")
        for old in built_dir.iterdir():
            if stale.fullmatch(old.name) and old not in (archive, meta_path):
                old.unlink(missing_ok=True)
    meta = json.loads(meta_path.read_text())
    out = out_dir / f"{recipe.name}.tar"
    _copy_atomically(archive, out)
    return Built(
        recipe=recipe.name,
        references=[str(r) for r in recipe.references],
        archive=out,
        manifest_digest=meta["manifest_digest"],
        size=out.stat().st_size,
        cached=cached,
        seconds=time.monotonic() - started,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m images.build",
        description="Build the seed's example images from Debian packages into OCI archives.",
    )
    p.add_argument("images", nargs="*", help="recipe or image names (default: all)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="where <recipe>.tar goes")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache of .debs and built archives (default ${CACHE_ENV} or {DEFAULT_CACHE_DIR})",
    )
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--load", action="store_true", help="import each image into kubelite's store")
    p.add_argument("--data-dir", type=Path, help="kubelite's data dir, for --load")
    p.add_argument("--push", metavar="REGISTRY", help="push each image, e.g. 127.0.0.1:5000")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.load and args.data_dir is None:
        _parser().error("--load needs --data-dir")
    try:
        recipes = select(args.images, load_all())
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.list:
        for r in recipes:
            print(f"{r.name:22} {' '.join(str(ref) for ref in r.references)}")
        return 0
    cache_dir = args.cache_dir or cache_dir_from_env()
    try:
        for recipe in recipes:
            built = build(recipe, cache_dir=cache_dir, out_dir=args.out)
            how = "cached" if built.cached else "built"
            print(
                f"{built.recipe:22} {built.size / 1e6:6.1f} MB  {how} in {built.seconds:5.2f} s  "
                f"{built.manifest_digest[:19]}  {built.archive}  {' '.join(built.references)}"
            )
            if args.load:
                ids = publish.load(built.archive, args.data_dir)
                print(f"{'':22} loaded into {args.data_dir}: {', '.join(dict.fromkeys(ids))}")
            if args.push:
                publish.push(built.archive, recipe.references, args.push)
                print(f"{'':22} pushed to {args.push}")
    except (debs.DebError, publish.PublishError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
