"""The images built by `images/build.py` are valid OCI archives, and each one runs under runc.

Every image is built once per session into a temporary output directory; .debs and built archives
come from the usual cache (`$KUBELITE_IMAGE_CACHE` or ~/.cache/kubelite/images), so only the first
run on a machine downloads anything. Each container runs from its own bundle (the image's layer
unpacked, `runc spec` adjusted to the image's config) under a private runc root, in a network
namespace the test makes with only loopback in it; clients reach it through `ip netns exec`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from images import build, oci
from images.recipe import load_all

from kubelite.runtime.oci.spec import DEFAULT_CAPABILITIES

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.e2e

# How long a server in a fresh container gets to start listening, and a stopped one to exit.
READY_TIMEOUT = 15.0
EXIT_TIMEOUT = 5.0


# Run inside the test's network namespace: wait until HOST:PORT accepts, send REQUEST (a Python
# bytes literal), print every byte the server sends before it closes or goes quiet.
CLIENT = r"""
import socket, sys, time
host, port, request, timeout = sys.argv[1], int(sys.argv[2]), eval(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + timeout
while True:
    try:
        s = socket.create_connection((host, port), timeout=1)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"{host}:{port} did not accept connections within {timeout} s")
        time.sleep(0.05)
s.settimeout(2)
s.sendall(request)
out = b""
try:
    while chunk := s.recv(65536):
        out += chunk
        if request.startswith((b"*", b"PING")) and out.endswith(b"\r\n"):
            break
except TimeoutError:
    pass
sys.stdout.buffer.write(out)
"""


def _run(*args: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, build.Built]]:
    """Every recipe built (or taken from the cache) into a temporary output directory."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs containers")
    out = tmp_path_factory.mktemp("images-out")
    try:
        cache = build.cache_dir_from_env()
        yield {r.name: build.build(r, cache_dir=cache, out_dir=out) for r in load_all()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(autouse=True)
def _remove_tmp_path(tmp_path: Path) -> Iterator[None]:
    """Bundles, registry storage, image stores: gone after each test, passed or failed."""
    try:
        yield
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


@dataclass
class Netns:
    """A network namespace with loopback up, and a client that runs inside it."""

    name: str

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", self.name, *args, check=check)

    def request(self, port: int, request: bytes, host: str = "127.0.0.1") -> bytes:
        """Send `request` to host:port once it listens, and return the answer."""
        done = subprocess.run(
            [
                *("ip", "netns", "exec", self.name, sys.executable, "-c", CLIENT),
                *(host, str(port), repr(request), str(READY_TIMEOUT)),
            ],
            capture_output=True,
            check=False,
            timeout=READY_TIMEOUT + 10,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns(f"kl-img-{secrets.token_hex(4)}")
    _run("ip", "netns", "add", ns.name)
    try:
        _run("ip", "-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        _run("ip", "netns", "delete", ns.name, check=False)


def layer_blob(archive: Path, tag: str) -> bytes:
    """The (only) layer of the image that `tag` names in an OCI archive."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> bytes:
            member = tar.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))
            assert member is not None
            return member.read()

        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        (entry,) = [
            m for m in index["manifests"] if m["annotations"][oci.ANNOTATION_REF_NAME] == tag
        ]
        manifest = json.loads(blob(entry["digest"]))
        (layer,) = manifest["layers"]
        return blob(layer["digest"])


@dataclass
class Containers:
    """Containers run by runc from images, under a private runc root; all removed at the end."""

    base: Path
    ids: list[str] = field(default_factory=list)

    def _runc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("runc", "--root", str(self.base / "runc"), *args, check=check)

    def bundle(
        self, built: build.Built, *, netns: Netns | None = None, tag: str = "latest", env=()
    ) -> tuple[str, Path]:
        """Unpack the image into a new bundle whose process is the image's entrypoint + cmd."""
        cid = f"kl-img-{secrets.token_hex(4)}"
        bundle = self.base / cid
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        layer = bundle / "layer.tar.gz"
        layer.write_bytes(layer_blob(built.archive, tag))
        _run("tar", "-xzf", str(layer), "-C", str(rootfs), "--numeric-owner")
        layer.unlink()
        _run("runc", "spec", "--bundle", str(bundle))
        spec = json.loads((bundle / "config.json").read_text())
        image = image_config(built.archive, tag)["config"]
        process = spec["process"]
        process["terminal"] = False
        process["args"] = image.get("Entrypoint", []) + image.get("Cmd", [])
        process["env"] = image.get("Env", []) + list(env)
        process["cwd"] = image.get("WorkingDir") or "/"
        process["capabilities"] = {
            kind: DEFAULT_CAPABILITIES for kind in ("bounding", "effective", "permitted")
        }
        spec["root"]["readonly"] = False
        namespaces = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
        if netns is not None:
            namespaces.append({"type": "network", "path": netns.path})
        spec["linux"]["namespaces"] = namespaces
        (bundle / "config.json").write_text(json.dumps(spec))
        return cid, bundle

    def run(self, cid: str, bundle: Path, *, timeout: float = 20) -> subprocess.CompletedProcess:
        """Run a container to completion, returning its exit code and output."""
        self.ids.append(cid)
        return subprocess.run(
            ["runc", "--root", str(self.base / "runc"), "run", "--bundle", str(bundle), cid],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def start(self, cid: str, bundle: Path) -> None:
        """Run a container in the background, its output going to `<bundle>/output`."""
        self.ids.append(cid)
        # runc -d hands these descriptors to the container: files, never pipes (RUNTIME_NOTES.md).
        with (bundle / "output").open("wb") as output:
            subprocess.run(
                ["runc", "--root", str(self.base / "runc"), "run", "-d", "-b", str(bundle), cid],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                check=True,
                timeout=20,
            )

    def status(self, cid: str) -> str:
        done = self._runc("state", cid, check=False)
        return json.loads(done.stdout)["status"] if done.returncode == 0 else "gone"

    def wait_stopped(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status(cid) in ("stopped", "gone"):
                return True
            time.sleep(0.05)
        return False

    def remove_all(self) -> None:
        for cid in self.ids:
            self._runc("kill", cid, "KILL", check=False)
            self._runc("delete", "--force", cid, check=False)


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[Containers]:
    made = Containers(tmp_path)
    try:
        yield made
    finally:
        made.remove_all()


def image_config(archive: Path, tag: str) -> dict:
    done = _run("skopeo", "inspect", "--config", f"oci-archive:{archive}:{tag}")
    return json.loads(done.stdout)


# --- the archives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipe", "tag", "name"),
    [
        ("busybox", "latest", "docker.io/library/busybox:latest"),
        ("busybox", "1.28", "docker.io/library/busybox:1.28"),
        ("nginx", "latest", "docker.io/library/nginx:latest"),
        ("redis", "latest", "docker.io/library/redis:latest"),
        ("twemproxy", "latest", "docker.io/malexer/twemproxy:latest"),
        ("adapter-node-server", "latest", "docker.io/bbachin1/adapter-node-server:latest"),
    ],
)
def test_archive_is_an_oci_layout_skopeo_reads(
    built: dict[str, build.Built], recipe: str, tag: str, name: str
) -> None:
    archive = built[recipe].archive
    with tarfile.open(archive) as tar:
        layout = json.loads(tar.extractfile("oci-layout").read())  # type: ignore[union-attr]
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    names = {m["annotations"][oci.ANNOTATION_CONTAINERD_NAME] for m in index["manifests"]}
    assert name in names
    inspected = json.loads(_run("skopeo", "inspect", f"oci-archive:{archive}:{tag}").stdout)
    assert inspected["Digest"] == built[recipe].manifest_digest
    assert len(inspected["Layers"]) == 1
    assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"


def test_image_configs_are_the_originals(built: dict[str, build.Built]) -> None:
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    busybox = image_config(built["busybox"].archive, "1.28")["config"]
    assert busybox["Cmd"] == ["sh"] and path in busybox["Env"]
    nginx = image_config(built["nginx"].archive, "latest")["config"]
    assert nginx["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert nginx["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert nginx["ExposedPorts"] == {"80/tcp": {}} and nginx["StopSignal"] == "SIGQUIT"
    redis = image_config(built["redis"].archive, "latest")["config"]
    assert redis["Cmd"] == ["redis-server"] and redis["WorkingDir"] == "/data"
    assert redis["ExposedPorts"] == {"6379/tcp": {}} and redis["Volumes"] == {"/data": {}}
    twemproxy = image_config(built["twemproxy"].archive, "latest")["config"]
    assert twemproxy["ExposedPorts"] == {"6380/tcp": {}}
    assert "LISTEN_PORT=6380" in twemproxy["Env"]
    adapter = image_config(built["adapter-node-server"].archive, "latest")["config"]
    assert adapter["ExposedPorts"] == {"3080/tcp": {}}


def test_a_rebuild_without_the_cache_gives_the_same_digest(
    built: dict[str, build.Built], tmp_path: Path
) -> None:
    # A fresh cache whose .debs are the shared ones: nothing is downloaded, everything is rebuilt.
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "debs").symlink_to(build.cache_dir_from_env() / "debs")
    (recipe,) = [r for r in load_all() if r.name == "busybox"]
    again = build.build(recipe, cache_dir=tmp_path / "cache", out_dir=tmp_path / "out")
    assert not again.cached
    assert again.manifest_digest == built["busybox"].manifest_digest
    assert again.archive.read_bytes() == built["busybox"].archive.read_bytes()


def test_a_second_build_comes_from_the_cache_in_seconds(
    built: dict[str, build.Built], tmp_path: Path
) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "images.build", "--out", str(tmp_path), "nginx", "busybox:1.28"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert time.monotonic() - started < 10
    assert done.stdout.count("cached") == 2, done.stdout
    assert (tmp_path / "nginx.tar").read_bytes() == built["nginx"].archive.read_bytes()
    assert (tmp_path / "busybox.tar").exists()


# --- the images, running ----------------------------------------------------------------------


def test_busybox_runs_a_command(built: dict[str, build.Built], containers: Containers) -> None:
    cid, bundle = containers.bundle(built["busybox"], tag="1.28")
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["sh", "-c", "echo hello; readlink /bin/wget; ls -d /tmp /proc"]
    (bundle / "config.json").write_text(json.dumps(spec))
    done = containers.run(cid, bundle)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hello", "/bin/busybox", "/proc", "/tmp"]
    assert (bundle / "rootfs" / "tmp").stat().st_mode & 0o7777 == 0o1777


def test_nginx_serves_its_page_and_logs_to_a_file(
    built: dict[str, build.Built], containers: Containers, netns: Netns
) -> None:
    cid, bundle = containers.bundle(built["nginx"], netns=netns)
    containers.start(cid, bundle)
    answer = netns.request(80, b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b"<title>Welcome to nginx!</title>" in answer
    access_log = bundle / "rootfs" / "var/log/nginx/access.log"
    assert not access_log.is_symlink()
    deadline = time.monotonic() + READY_TIMEOUT
    while b'"GET / HTTP/1.0" 200' not in access_log.read_bytes():
        assert time.monotonic() < deadline, "nothing logged to /var/log/nginx/access.log"
        time.sleep(0.05)
    workers = [_process(child) for child in _children(_pid(containers, cid))]
    assert workers and all(w == (101, "nginx: worker process") for w in workers), workers


def _pid(containers: Containers, cid: str) -> int:
    return json.loads(containers._runc("state", cid).stdout)["pid"]


def _process(pid: int) -> tuple[int, str]:
    """A process's real uid and its command line, as `ps -o uid=,args=` prints them; read from
    /proc, as ps does (a minimal Debian has no procps)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = int(next(line for line in status if line.startswith("Uid:")).split()[1])
    # nginx and redis rewrite their titles in place; what is left of argv's space is NULs.
    args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return uid, args


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (`ps --ppid`)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_redis_answers_ping_from_any_address(
    built: dict[str, build.Built], containers: Containers, netns: Netns
) -> None:
    # A second address on loopback: redis' protected mode refuses any client not on 127.0.0.1.
    netns.exec("ip", "addr", "add", "10.254.0.1/32", "dev", "lo")
    cid, bundle = containers.bundle(built["redis"], netns=netns)
    containers.start(cid, bundle)
    assert netns.request(6379, b"PING\r\n") == b"+PONG\r\n"
    assert netns.request(6379, b"PING\r\n", host="10.254.0.1") == b"+PONG\r\n"
    uid, args = _process(_pid(containers, cid))
    assert uid == 999 and "redis-server" in args, (uid, args)


def test_twemproxy_proxies_to_the_redis_servers_it_is_given(
    built: dict[str, build.Built], containers: Containers, netns: Netns
) -> None:
    # Two containers in one network namespace, as the seed's ambassador pod has them.
    redis_id, redis_bundle = containers.bundle(built["redis"], netns=netns)
    containers.start(redis_id, redis_bundle)
    servers = "REDIS_SERVERS=127.0.0.1:6379:1 backup-name"
    proxy_id, proxy_bundle = containers.bundle(built["twemproxy"], netns=netns, env=[servers])
    containers.start(proxy_id, proxy_bundle)
    set_key = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n"
    assert netns.request(6380, set_key) == b"+OK\r\n"
    assert netns.request(6379, b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n") == b"$5\r\nworld\r\n"
    config = (proxy_bundle / "rootfs" / "etc/nutcracker.conf").read_text()
    assert "listen: 0.0.0.0:6380" in config
    assert "    - 127.0.0.1:6379:1 backup-name\n" in config


def test_adapter_serves_the_log_file_as_json_lines_and_stops_on_sigterm(
    built: dict[str, build.Built], containers: Containers, netns: Netns
) -> None:
    cid, bundle = containers.bundle(built["adapter-node-server"], netns=netns)
    log = bundle / "rootfs" / "var/log/file.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # What the seed's main container writes: `echo $(date -u)'# Log'`, with a quote thrown in.
    log.write_text('Wed Dec  2 03:07:50 UTC 2026# Log\nWed Dec  2 03:07:55 UTC 2026# a "b"\n')
    containers.start(cid, bundle)
    answer = netns.request(3080, b"GET /logs HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert [json.loads(line) for line in body.splitlines()] == [
        {"date": "Wed Dec  2 03:07:50 UTC 2026", "label": "Log"},
        {"date": "Wed Dec  2 03:07:55 UTC 2026", "label": 'a "b"'},
    ]
    containers._runc("kill", cid, signal.SIGTERM.name)
    assert containers.wait_stopped(cid, EXIT_TIMEOUT), "SIGTERM did not stop the adapter"


# --- pushing ----------------------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port, storing into tmp_path."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
        f"http:\n  addr: {address}\n"
    )
    with (tmp_path / "registry.log").open("wb") as log:
        server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "registry.log").read_text()
                assert time.monotonic() < deadline, "docker-registry did not start"
                time.sleep(0.05)
        yield address
    finally:
        server.terminate()
        try:
            server.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_push_puts_every_name_in_the_registry_under_its_docker_hub_path(
    built: dict[str, build.Built], registry: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "images.build",
            "--out",
            str(tmp_path),
            "--push",
            registry,
            "busybox",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for tag in ("latest", "1.28"):
        pushed = _run(
            "skopeo", "inspect", "--tls-verify=false", f"docker://{registry}/library/busybox:{tag}"
        )
        assert json.loads(pushed.stdout)["Digest"] == built["busybox"].manifest_digest


# --- loading ----------------------------------------------------------------------------------


def test_load_imports_the_image_into_kubelites_store_under_every_name(
    built: dict[str, build.Built], tmp_path: Path
) -> None:
    from kubelite.runtime.images import LocalImageService

    data_dir = tmp_path / "data"
    load = ["--load", "--data-dir", str(data_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "images.build", "--out", str(tmp_path / "out"), *load, "busybox"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    async def status() -> list:
        async with LocalImageService(data_dir / "images") as store:
            return [await store.image_status(n) for n in ("busybox", "busybox:1.28")]

    latest, old = asyncio.run(status())
    assert latest is not None and old is not None and latest.id == old.id
    assert set(latest.repo_tags) == {
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:1.28",
    }
    assert latest.config.cmd == ["sh"]
