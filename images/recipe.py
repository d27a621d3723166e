"""Image recipes: what each example image is made of, read from `images/recipes/<name>.toml`.

A recipe names the image (as the seed's manifests do), the Debian packages it is built from, the
users, directories and files it adds, and the run config (Entrypoint, Cmd, Env, ...) the original
image on Docker Hub has. Files under `images/recipes/<name>/` are copied into the image at the same
path (executable files keep their executable bit). `images/README.md` documents every key.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .oci import Reference, normalize

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"

# The OCI image config's `config` keys a recipe may set (image-spec `config.md`), and the ones
# that the spec writes as a set ({"80/tcp": {}}) but a recipe lists.
RUN_CONFIG_KEYS = frozenset(
    {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "StopSignal"}
)
SET_KEYS = frozenset({"ExposedPorts", "Volumes"})

BUSYBOX_LAYOUTS = ("bin", "fhs")


class RecipeError(ValueError):
    """A recipe file is missing a key or has one of the wrong kind."""


@dataclass(frozen=True)
class Directory:
    """A directory the image needs that no package ships (or ships with the wrong owner)."""

    path: str
    mode: int = 0o755
    owner: str = "root"


@dataclass(frozen=True)
class Recipe:
    """One image, as `images/recipes/<name>.toml` describes it."""

    name: str
    description: str
    names: tuple[str, ...]
    packages: tuple[str, ...]
    skip: tuple[str, ...]
    busybox_links: str | None
    users: tuple[str, ...]  # /etc/passwd lines added to the base ones
    groups: tuple[str, ...]  # /etc/group lines added to the base ones
    dirs: tuple[Directory, ...]
    drop: tuple[str, ...]
    run_config: dict[str, Any] = field(hash=False)
    source: bytes = field(repr=False)  # the TOML file's bytes, part of the build's cache key

    @property
    def references(self) -> list[Reference]:
        """The normalized names, without repeats (`nginx` and `nginx:latest` are one)."""
        return list(dict.fromkeys(normalize(n) for n in self.names))

    @property
    def files_dir(self) -> Path:
        return RECIPES_DIR / self.name

    def files(self) -> list[tuple[str, Path]]:
        """The recipe's own files: (path in the image, path on disk), sorted."""
        if not self.files_dir.is_dir():
            return []
        return sorted(
            (p.relative_to(self.files_dir).as_posix(), p)
            for p in self.files_dir.rglob("*")
            if p.is_file()
        )

    def fingerprint(self) -> str:
        """A hash of everything the recipe itself contributes (the TOML and its files)."""
        h = hashlib.sha256(self.source)
        for rel, path in self.files():
            h.update(f"\0{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
            h.update(path.read_bytes())
        return h.hexdigest()


def _strings(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> tuple:
    value = data.get(key, [])
    if required and not value:
        raise RecipeError(f"{where}: {key}: Required value")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"{where}: {key}: must be a list of strings")
    return tuple(value)


def _run_config(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: config: must be a table")
    unknown = set(raw) - RUN_CONFIG_KEYS
    if unknown:
        raise RecipeError(f"{where}: config: unknown keys {sorted(unknown)}")
    config = dict(raw)
    for key in SET_KEYS & set(config):
        config[key] = {item: {} for item in config[key]}
    if not any(e.startswith("PATH=") for e in config.get("Env", [])):
        raise RecipeError(f"{where}: config.Env: PATH is required")
    return config


def parse(name: str, source: bytes) -> Recipe:
    """A recipe from the bytes of its TOML file."""
    where = f"recipe {name!r}"
    try:
        data = tomllib.loads(source.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RecipeError(f"{where}: {e}") from e
    busybox = data.get("busybox_links")
    if busybox is not None and busybox not in BUSYBOX_LAYOUTS:
        raise RecipeError(f"{where}: busybox_links: must be one of {BUSYBOX_LAYOUTS}")
    dirs = []
    for item in data.get("dirs", []):
        if not isinstance(item, dict) or "path" not in item:
            raise RecipeError(f"{where}: dirs: each entry needs a path")
        dirs.append(
            Directory(item["path"], int(item.get("mode", "0755"), 8), item.get("owner", "root"))
        )
    recipe = Recipe(
        name=name,
        description=data.get("description", ""),
        names=_strings(data, "names", where, required=True),
        packages=_strings(data, "packages", where, required=True),
        skip=_strings(data, "skip", where),
        busybox_links=busybox,
        users=_strings(data, "users", where),
        groups=_strings(data, "groups", where),
        dirs=tuple(dirs),
        drop=_strings(data, "drop", where),
        run_config=_run_config(data.get("config", {}), where),
        source=source,
    )
    for n in recipe.names:
        try:
            normalize(n)
        except ValueError as e:
            raise RecipeError(f"{where}: names: {e}") from e
    return recipe


def load(name: str, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    path = recipes_dir / f"{name}.toml"
    if not path.is_file():
        raise RecipeError(f"recipe {name!r}: no file {path}")
    return parse(name, path.read_bytes())


def load_all(recipes_dir: Path = RECIPES_DIR) -> list[Recipe]:
    return [load(p.stem, recipes_dir) for p in sorted(recipes_dir.glob("*.toml"))]


def select(wanted: list[str], recipes: list[Recipe]) -> list[Recipe]:
    """The recipes that `wanted` names, by recipe name or by any image name they build."""
    if not wanted:
        return recipes
    chosen: dict[str, Recipe] = {}
    for want in wanted:
        match = [r for r in recipes if r.name == want]
        if not match:
            try:
                ref = normalize(want)
            except ValueError:
                ref = None
            match = [r for r in recipes if ref in r.references]
        if not match:
            known = ", ".join(r.name for r in recipes)
            raise RecipeError(f"no recipe builds {want!r} (recipes: {known})")
        chosen[match[0].name] = match[0]
    return list(chosen.values())
