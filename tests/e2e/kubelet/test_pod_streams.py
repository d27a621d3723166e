"""exec, cp, attach and port-forward through the API server to a real node, with every kubectl
build the machine has from 1.27 (SPDY/3.1 only) to 1.37 (WebSockets, and SPDY tunnelled in a
WebSocket for port-forward): `kubectl_builds.available()`."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import ssl
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from tests import kubectl_builds
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, pod_ready, wait_for
from kubelite.kubelet.server import spdy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

MANIFEST = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 8080
    targetPort: 80
---
apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command:
    - sh
    - -c
    - mkdir -p /www && echo only-on-localhost > /www/index.html
      && httpd -p 127.0.0.1:8081 -h /www && exec sleep 3600
"""

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@pytest.fixture(scope="module")
def pods(node: Cluster) -> Iterator[Cluster]:
    apply_manifest(node, MANIFEST)
    for name in ("web", "shell"):
        wait_for(f"pod {name} to be ready", lambda name=name: pod_ready(node, name), timeout=90)
    yield node
    node.kubectl("delete", "service", "web", check=False)
    for name in ("web", "shell"):
        delete_pod(node, name)


def _get(port: int, path: str = "/") -> str:
    done = subprocess.run(
        ["busybox", "wget", "-q", "-O", "-", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )
    return done.stdout


class PortForward:
    """`kubectl port-forward TARGET :PORT` running until the block ends."""

    def __init__(self, cluster: Cluster, build: kubectl_builds.KubectlBuild, *args: str):
        self.proc = subprocess.Popen(
            [build.path, "port-forward", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cluster.env(),
        )
        self.stderr = ""

    def __enter__(self) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            found = FORWARDING.search(line)
            if found:
                return int(found.group(1))
        self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        raise AssertionError(f"port-forward did not start: {err}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_port_forward_to_a_pod_serves_nginx(pods: Cluster, version: str) -> None:
    build = kubectl_builds.exactly(version)
    forward = PortForward(pods, build, "pod/web", ":80", "-v=6")
    with forward as port:
        assert "Welcome to nginx" in _get(port)
        # A second connection through the same forward is a second stream pair.
        assert "Welcome to nginx" in _get(port)
    # kubectl's own log (-v=6) tells which way it went: 1.31+ tunnels SPDY in a WebSocket (a GET
    # answered 101), older ones upgrade a POST to SPDY. A failed tunnel would have fallen back.
    verb = "GET" if build.minor >= 31 else "POST"
    if build.minor >= 31:
        assert "tunneling_dialer" in forward.stderr
    # 1.33 and later log each request as klog's key="value" pairs, older ones as a line of text.
    if build.minor >= 33:
        request = rf'verb="{verb}" url="\S+/pods/web/portforward" status="101'
    else:
        request = rf"{verb} \S+/pods/web/portforward 101 Switching Protocols"
    assert re.search(request, forward.stderr), forward.stderr


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_port_forward_to_a_service_picks_its_pod(pods: Cluster, version: str) -> None:
    build = kubectl_builds.exactly(version)
    # kubectl resolves svc/web to a pod by the selector, and 8080 to its target port 80.
    with PortForward(pods, build, "svc/web", ":8080") as port:
        assert "Welcome to nginx" in _get(port)


def test_port_forward_reaches_an_app_listening_on_the_pods_localhost(pods: Cluster) -> None:
    build = kubectl_builds.find(kubectl_builds.NEWEST)
    with PortForward(pods, build, "pod/shell", ":8081") as port:
        assert "only-on-localhost" in _get(port)


def test_the_websocket_tunnel_of_kubectl_1_31_and_later_carries_spdy(pods: Cluster) -> None:
    # kubectl falls back to plain SPDY when the tunnel fails, so speak the tunnel here, as
    # kubectl does: SPDY frames in the binary messages of a `SPDY/3.1+portforward.k8s.io` socket.
    async def forward() -> bytes:
        tls = pods.data_dir / "tls"
        context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
        url = f"{pods.url}/api/v1/namespaces/default/pods/web/portforward"
        connector = aiohttp.TCPConnector(ssl=context)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.ws_connect(url, protocols=("SPDY/3.1+portforward.k8s.io",)) as ws,
        ):
            assert ws.protocol == "SPDY/3.1+portforward.k8s.io"
            session = spdy.Session(ws.send_bytes, server=False)

            async def pump() -> None:
                async for msg in ws:
                    session.feed(msg.data)
                session.feed_eof()

            reader = asyncio.create_task(pump())
            headers = [("port", "80"), ("requestID", "0")]
            error = await session.open_stream([("streamType", "error"), *headers])
            await error.close()
            data = await session.open_stream([("streamType", "data"), *headers])
            await data.write(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
            page = b""
            while chunk := await asyncio.wait_for(data.read(), 20):
                page += chunk
            reader.cancel()
            return page

    assert b"Welcome to nginx" in asyncio.run(forward())


def test_the_python_clients_websocket_port_forward(pods: Cluster) -> None:
    from kubernetes.client import CoreV1Api
    from kubernetes.stream import portforward

    api = CoreV1Api(pods.client())
    forward = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
    sock = forward.socket(80)
    try:
        sock.setblocking(True)
        sock.settimeout(20)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        page = b""
        while chunk := sock.recv(65536):
            page += chunk
        assert b"Welcome to nginx" in page
        assert forward.error(80) is None
    finally:
        sock.close()
        forward.close()


def test_port_forward_to_a_closed_port_reports_the_error(pods: Cluster) -> None:
    build = kubectl_builds.find("1.33")
    forward = PortForward(pods, build, "pod/web", ":81")
    with forward as port:
        assert _get(port) == ""
    assert "error forwarding port 81 to pod" in forward.stderr
    assert "connection refused" in forward.stderr


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_exec_over_every_kubectl(pods: Cluster, version: str) -> None:
    kubectl_builds.exactly(version)
    done = pods.kubectl(
        "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
        version=version, check=False,
    )  # fmt: skip
    assert done.stdout == "out\n"
    assert "err" in done.stderr
    assert done.returncode == 3
    piped = pods.kubectl("exec", "-i", "shell", "--", "cat", version=version, stdin="hello\n")
    assert piped.stdout == "hello\n"


def test_cp_over_spdy_copies_more_than_a_window(pods: Cluster, tmp_path: Path) -> None:
    kubectl_builds.exactly("1.27")
    # Many SPDY/3 windows of 64 KiB, and more than the relays buffer before they push back.
    payload = os.urandom(8 * 1024 * 1024)
    source = tmp_path / "blob"
    source.write_bytes(payload)
    pods.kubectl("cp", str(source), "shell:/tmp/blob", version="1.27")
    back = tmp_path / "back"
    pods.kubectl("cp", "shell:/tmp/blob", str(back), version="1.27")
    assert back.read_bytes() == payload


class Terminal:
    """A command on a pseudo-terminal, as a person at a shell runs kubectl -it."""

    def __init__(
        self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (24, 80)
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def expect(self, pattern: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while pattern not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; terminal showed {self.seen!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 1))
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the command ended and closed the terminal
                    raise AssertionError(
                        f"{pattern!r} not seen; terminal showed {self.seen!r}"
                    ) from None

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                with contextlib.suppress(OSError):
                    self.seen += os.read(self.master, 4096)
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_kubectl_run_it_rm_attaches_to_a_shell_then_deletes_the_pod(
    pods: Cluster, version: str
) -> None:
    build = kubectl_builds.exactly(version)
    name = f"t{build.minor}"
    term = Terminal(
        [build.path, "run", "-it", "--rm", "--image=busybox", name, "--", "sh"],
        pods.env(),
    )
    try:
        term.expect(b"If you don't see a command prompt", timeout=90)
        term.send("echo h''i-from-$((40+2))\n")
        term.expect(b"hi-from-42")
        term.send("exit\n")
        assert term.wait() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert f'pod "{name}" deleted'.encode() in term.seen
    # Deleted with the default grace period: gone, or on its way out.
    pod = pods.kubectl("get", "pod", name, "--ignore-not-found", "-o", "json").stdout
    assert not pod or '"deletionTimestamp"' in pod


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_exec_with_a_terminal_has_the_terminals_size(pods: Cluster, version: str) -> None:
    build = kubectl_builds.exactly(version)
    term = Terminal([build.path, "exec", "-it", "shell", "--", "sh"], pods.env(), size=(33, 111))
    try:
        term.send("stty size; exit 4\n")
        term.expect(b"33 111")
        assert term.wait() == 4
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def test_port_forward_to_a_deployment_picks_one_of_its_pods(pods: Cluster) -> None:
    build = kubectl_builds.find("1.33")
    pods.kubectl("create", "deployment", "fwd", "--image=nginx")
    try:
        wait_for(
            "the deployment's pod",
            lambda: (
                pods.kubectl(
                    "get", "deploy", "fwd", "-o", "jsonpath={.status.availableReplicas}"
                ).stdout
                == "1"
            ),
            timeout=90,
        )
        with PortForward(pods, build, "deploy/fwd", ":80") as port:
            assert "Welcome to nginx" in _get(port)
    finally:
        pods.kubectl("delete", "deployment", "fwd", "--wait=false", check=False)


def test_attach_to_a_running_container_sees_its_output_and_feeds_its_stdin(
    pods: Cluster,
) -> None:
    apply_manifest(
        pods,
        """
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    stdin: true
    command: [sh, -c, 'while read line; do echo "got $line"; done']
""",
    )
    try:
        wait_for("pod reader to be ready", lambda: pod_ready(pods, "reader"), timeout=90)
        builds = kubectl_builds.available_builds()
        assert builds, "no kubectl build of 1.27 to 1.37 on this machine"
        for build in builds:
            proc = subprocess.Popen(
                [build.path, "attach", "-i", "reader"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=pods.env(),
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"v{build.minor}\n".encode())
            proc.stdin.flush()
            line = wait_for("the echo", proc.stdout.readline, timeout=30)
            assert line == f"got v{build.minor}\n".encode()
            proc.terminate()
            proc.wait(timeout=10)
        # Without stdinOnce the container's stdin outlived every attach.
        assert pod_ready(pods, "reader")
    finally:
        delete_pod(pods, "reader")


def test_attach_and_port_forward_name_a_missing_container_or_pod(pods: Cluster) -> None:
    done = pods.kubectl("attach", "shell", "-c", "nope", check=False)
    assert done.returncode != 0
    missing = pods.kubectl("port-forward", "pod/absent", ":80", check=False, timeout=30)
    assert 'pods "absent" not found' in missing.stderr
