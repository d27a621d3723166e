"""Debian packages for an image: resolve their dependencies, download them once, read their files.

An image has nothing in it to begin with, so every library a program links against has to come
along, libc6 included. apt itself answers "what would I install" only relative to the host's
installed set, so the closure is walked here over `apt-cache show` (the candidate version of each
package, the one `apt-get download` fetches), skipping packages that only maintainer scripts or
init systems use: nothing runs those scripts in an image.

Walking the closure takes apt-cache a few seconds (these machines keep no pkgcache.bin, so every
call re-reads the package lists); its answer only changes when the lists do (`apt-get update`), so
it is kept in the cache keyed by the lists' names, sizes and mtimes. Downloaded .debs are kept
there too, under apt's own file names, checked against the SHA256 of the archive's index: a second
build runs apt not at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

# Packages that Depends/Pre-Depends name only for what dpkg does around a package (maintainer
# scripts, init scripts, debconf prompts, user creation). An image never runs those, and some of
# them pull in perl or the whole of dpkg.
MAINTAINER_ONLY_PACKAGES = frozenset(
    {
        "adduser",
        "debconf",
        "debconf-2.0",
        "cdebconf",
        "init-system-helpers",
        "lsb-base",
        "sysvinit-utils",
        "dpkg",
        "perl-base",
        "passwd",
        "usrmerge",
        "usr-is-merged",
    }
)

# What apt's answers depend on: the downloaded package lists and the pinning preferences.
APT_STATE_PATHS = (
    Path("/var/lib/apt/lists"),
    Path("/etc/apt/preferences"),
    Path("/etc/apt/preferences.d"),
)

# Fields of a Packages stanza this module reads (deb-control(5)).
_DEPENDENCY_FIELDS = ("Pre-Depends", "Depends")


class DebError(RuntimeError):
    """apt could not resolve, download or unpack a package."""


@dataclass(frozen=True)
class Package:
    """One binary package at the version apt would install, and where its file comes from."""

    name: str
    version: str
    architecture: str
    sha256: str
    size: int
    depends: tuple[tuple[str, ...], ...]  # each group: alternatives, first preferred

    @property
    def deb_name(self) -> str:
        """The file name apt-get download gives it (an epoch's colon is written %3a)."""
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.architecture}.deb"


def _run(args: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def _parse_depends(value: str) -> tuple[tuple[str, ...], ...]:
    """`a (>= 1) | b:any, c` -> (("a", "b"), ("c",)): names only, version and arch dropped."""
    groups = []
    for group in value.split(","):
        names = []
        for alternative in group.split("|"):
            name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alternative).strip()
            name = name.split(":", 1)[0]
            if name:
                names.append(name)
        if names:
            groups.append(tuple(names))
    return tuple(groups)


def parse_stanzas(text: str) -> dict[str, Package]:
    """Packages from `apt-cache show` output, by name (the first stanza of a name wins)."""
    found: dict[str, Package] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        name = fields.get("Package")
        if not name or name in found:
            continue
        depends = ", ".join(fields[f] for f in _DEPENDENCY_FIELDS if fields.get(f))
        found[name] = Package(
            name=name,
            version=fields["Version"],
            architecture=fields["Architecture"],
            sha256=fields.get("SHA256", ""),
            size=int(fields.get("Size", "0")),
            depends=_parse_depends(depends),
        )
    return found


def _show(names: Iterable[str]) -> dict[str, Package]:
    names = sorted(set(names))
    if not names:
        return {}
    # apt-cache exits non-zero when any name is purely virtual but still prints the others.
    return parse_stanzas(_run(["apt-cache", "show", "--no-all-versions", *names]).stdout)


def _providers(virtual: str) -> list[str]:
    """Real packages that Provide a virtual one, as `apt-cache showpkg` lists them."""
    out = _run(["apt-cache", "showpkg", virtual]).stdout
    _, _, tail = out.partition("Reverse Provides:")
    return [line.split()[0] for line in tail.splitlines() if line.strip()]


def resolve(roots: Iterable[str], *, skip: Iterable[str] = ()) -> list[Package]:
    """The packages `roots` need to run, themselves included, sorted by name.

    Walks Depends and Pre-Depends (never Recommends), preferring the first alternative of a group
    as apt does; a group that names a skipped package counts as satisfied.
    """
    skipped = MAINTAINER_ONLY_PACKAGES | set(skip)
    chosen: dict[str, Package] = {}
    wanted = [name for name in roots if name not in skipped]
    while wanted:
        shown = _show(name for name in wanted if name not in chosen)
        next_wanted: list[str] = []
        for name in wanted:
            if name in chosen:
                continue
            package = shown.get(name)
            if package is None:
                providers = [p for p in _providers(name) if p not in skipped]
                if not providers:
                    raise DebError(f"package {name!r}: no installable candidate (apt-cache show)")
                next_wanted.append(providers[0])
                continue
            chosen[name] = package
            for group in package.depends:
                if any(alt in chosen or alt in skipped for alt in group):
                    continue
                next_wanted.append(group[0])
        wanted = [name for name in dict.fromkeys(next_wanted) if name not in chosen]
    return sorted(chosen.values(), key=lambda p: p.name)


def _apt_state() -> list[list[object]]:
    state: list[list[object]] = []
    for top in APT_STATE_PATHS:
        files = sorted(top.iterdir()) if top.is_dir() else [top]
        for f in files:
            if f.is_file():
                st = f.stat()
                state.append([str(f), st.st_size, st.st_mtime_ns])
    return state


def resolve_cached(roots: Iterable[str], *, skip: Iterable[str], cache_dir: Path) -> list[Package]:
    """`resolve`, answered from `cache_dir` while apt's package lists stay the same."""
    roots, skip = sorted(roots), sorted(skip)
    key = hashlib.sha256(
        json.dumps(
            [roots, skip, sorted(MAINTAINER_ONLY_PACKAGES), _apt_state()], sort_keys=True
        ).encode()
        + Path(__file__).read_bytes()
    ).hexdigest()
    path = cache_dir / f"{key}.json"
    if path.exists():
        return [_package_from_json(item) for item in json.loads(path.read_text())]
    packages = resolve(roots, skip=skip)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=cache_dir, delete=False, suffix=".tmp") as f:
        json.dump([asdict(p) for p in packages], f)
    os.replace(f.name, path)
    return packages


def _package_from_json(item: dict) -> Package:
    item["depends"] = tuple(tuple(group) for group in item["depends"])
    return Package(**item)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(packages: Iterable[Package], deb_dir: Path) -> dict[str, Path]:
    """Each package's .deb in `deb_dir`, downloading (and checking) only the missing ones."""
    deb_dir.mkdir(parents=True, exist_ok=True)
    paths = {p.name: deb_dir / p.deb_name for p in packages}
    missing = [p for p in packages if not paths[p.name].exists()]
    if not missing:
        return paths
    # A private download directory, then an atomic rename: builds running side by side share the
    # cache without ever seeing half a file.
    with tempfile.TemporaryDirectory(dir=deb_dir, prefix=".download-") as tmp:
        args = ["apt-get", "download", "-q"]
        if os.geteuid() == 0:
            # apt drops to _apt to download, which cannot write into a root-owned cache dir.
            args += ["-o", "APT::Sandbox::User=root"]
        done = _run([*args, *(f"{p.name}={p.version}" for p in missing)], cwd=Path(tmp))
        if done.returncode != 0:
            raise DebError(f"apt-get download failed: {done.stderr.strip()}")
        for package in missing:
            got = Path(tmp) / package.deb_name
            if not got.exists():
                raise DebError(f"apt-get download did not write {package.deb_name}")
            if package.sha256 and _sha256_file(got) != package.sha256:
                raise DebError(f"{package.deb_name}: SHA256 differs from the archive's index")
            os.replace(got, paths[package.name])
    return paths


def members(deb: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """The files a .deb installs (its data.tar), names made relative (`usr/bin/x`), in order."""
    done = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True)
    if done.returncode != 0:
        raise DebError(f"dpkg-deb {deb.name}: {done.stderr.decode(errors='replace').strip()}")
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        for info in tar:
            info.name = _relative(info.name)
            if not info.name:
                continue
            if info.islnk():
                info.linkname = _relative(info.linkname)
            source = tar.extractfile(info) if info.isreg() else None
            data = source.read() if source is not None else None
            out.append((info, data))
    return out


def _relative(name: str) -> str:
    """`./usr/bin/x` or `/usr/bin/x` -> `usr/bin/x`; the root itself -> ``."""
    return name.removeprefix(".").strip("/")
