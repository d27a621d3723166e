"""`kubectl logs`, `exec` and `port-forward` end to end: the real kubectl, a real `kubelite
server` proxying pods/log, exec and portforward, and the kubelet's HTTPS server in the test
process.

The kubelet's server runs with test doubles behind it (a table of containers and exec as local
processes, `kubelet_doubles`), since the container runtime is being finished elsewhere; every
byte between kubectl, the API server and the kubelet's server is the real thing: HTTPS with
client certificates, chunked log streams, WebSocket exec with the v5 channel protocol.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import http.server
import json
import os
import queue
import secrets
import select
import ssl
import struct
import subprocess
import termios
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from cluster import Cluster, kubectl_binary
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubelet_doubles import ContainerEntry, KubeletInThread, SubprocessExecRuntime, TableLocator
from kubernetes.stream import stream
from tests import kubectl_builds

from kubelite.apiserver import certs
from kubelite.kubelet.server import KubeletServer, ServingTLS

pytestmark = pytest.mark.integration

WAIT = 15.0


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def cri_lines(*lines: tuple[dt.datetime, str, str, str]) -> bytes:
    return b"".join(f"{rfc3339(t)} {s} {tag} {text}\n".encode() for t, s, tag, text in lines)


@dataclass
class Kubelet:
    server: KubeletServer
    node: str
    port: int
    locator: TableLocator
    runtime: SubprocessExecRuntime
    tls: ServingTLS
    logs: Path


@pytest.fixture(scope="module")
def kubelet(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubelet]:
    """The kubelet's server on loopback, and a Node whose kubelet it is."""
    node = f"node-{secrets.token_hex(3)}"
    pki = certs.ensure(cluster.data_dir / "tls", [], [])
    cert, key = certs.issue_kubelet_serving_cert(pki, node, ["127.0.0.1"])
    tls = ServingTLS(cert, key, pki.ca_cert)
    locator, runtime = TableLocator(), SubprocessExecRuntime()
    server = KubeletInThread(KubeletServer(locator, runtime, tls, host="127.0.0.1", port=0))
    server.start()
    try:
        status, body, _ = cluster.request(
            "POST",
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node},
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": "127.0.0.1"},
                        {"type": "Hostname", "address": node},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": server.server.port}},
                },
            },
        )
        assert status == 201, body
        yield Kubelet(
            server.server,
            node,
            server.server.port,
            locator,
            runtime,
            tls,
            tmp_path_factory.mktemp("logs"),
        )
    finally:
        server.stop()
        cluster.request("DELETE", f"/api/v1/nodes/{node}")


def running_status(name: str, container_id: str) -> dict[str, object]:
    return {
        "name": name,
        "image": "busybox",
        "imageID": "",
        "ready": True,
        "started": True,
        "restartCount": 0,
        "containerID": f"kubelite://{container_id}",
        "state": {"running": {"startedAt": "2026-12-02T03:00:00Z"}},
    }


def make_pod(
    cluster: Cluster,
    kubelet: Kubelet,
    namespace: str,
    name: str,
    statuses: list[dict[str, object]],
    containers: list[str] | None = None,
) -> None:
    names = containers or [str(s["name"]) for s in statuses]
    status, body, _ = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": kubelet.node,
                "containers": [{"name": c, "image": "busybox"} for c in names],
            },
        },
    )
    assert status == 201, body
    status, body, _ = cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/{name}/status",
        {"status": {"phase": "Running", "containerStatuses": statuses}},
        content_type="application/merge-patch+json",
    )
    assert status == 200, body


def running_container(
    kubelet: Kubelet, namespace: str, pod: str, container: str, log: bytes = b""
) -> tuple[str, Path]:
    """A container the doubles know as running, with `log` as its CRI log file."""
    container_id = secrets.token_hex(8)
    path = kubelet.logs / f"{namespace}_{pod}_{container}.log"
    path.write_bytes(log)
    kubelet.locator.pods.setdefault((namespace, pod), {})[container] = ContainerEntry(
        current=(container_id, path)
    )
    kubelet.runtime.running.add(container_id)
    return container_id, path


NOW = dt.datetime.now(dt.UTC)
LOG = cri_lines(
    (NOW - dt.timedelta(hours=2), "stdout", "F", "an old line"),
    (NOW - dt.timedelta(seconds=3), "stdout", "F", "starting"),
    (NOW - dt.timedelta(seconds=2), "stderr", "P", "a long "),
    (NOW - dt.timedelta(seconds=2), "stderr", "F", "warning"),
    (NOW - dt.timedelta(seconds=1), "stdout", "F", "ready"),
)


@pytest.fixture
def web(cluster: Cluster, kubelet: Kubelet, namespace: str) -> str:
    """A running one-container pod `web` with LOG as its log; returns its container id."""
    container_id, _ = running_container(kubelet, namespace, "web", "app", LOG)
    make_pod(cluster, kubelet, namespace, "web", [running_status("app", container_id)])
    return container_id


# --- kubectl logs ---------------------------------------------------------------------------


def test_logs_show_the_container_output_with_partial_lines_joined(
    cluster: Cluster, web: str, namespace: str
) -> None:
    out = cluster.kubectl("logs", "-n", namespace, "web").stdout
    assert out == "an old line\nstarting\na long warning\nready\n"
    assert cluster.kubectl("logs", "-n", namespace, "web", "-c", "app").stdout == out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--tail=2"], "a long warning\nready\n"),
        (["--since=1h"], "starting\na long warning\nready\n"),
        (["--limit-bytes=15"], "an old line\nsta"),
        (["--tail=1", "--timestamps"], f"{rfc3339(NOW - dt.timedelta(seconds=1))} ready\n"),
    ],
    # Ids without the timestamp, so that every process of a parallel run collects the same.
    ids=["tail", "since", "limit-bytes", "timestamps"],
)
def test_logs_options(
    cluster: Cluster, web: str, namespace: str, flags: list[str], expected: str
) -> None:
    assert cluster.kubectl("logs", "-n", namespace, "web", *flags).stdout == expected


def test_logs_follow_streams_new_lines_until_the_container_exits(
    cluster: Cluster, kubelet: Kubelet, namespace: str
) -> None:
    container_id, path = running_container(
        kubelet, namespace, "tail", "app", cri_lines((NOW, "stdout", "F", "one"))
    )
    make_pod(cluster, kubelet, namespace, "tail", [running_status("app", container_id)])
    proc = subprocess.Popen(
        [kubectl_binary(), "logs", "-f", "-n", namespace, "tail"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []])
    reader.start()
    try:
        assert lines.get(timeout=WAIT) == "one\n"
        with path.open("ab") as f:
            f.write(cri_lines((NOW, "stdout", "F", "two"), (NOW, "stderr", "P", "thr")))
            f.flush()
            assert lines.get(timeout=WAIT) == "two\n"
            f.write(cri_lines((NOW, "stderr", "F", "ee")))
        assert lines.get(timeout=WAIT) == "three\n"
        started = time.monotonic()
        kubelet.runtime.running.discard(container_id)
        assert proc.wait(WAIT) == 0, proc.stderr.read() if proc.stderr else ""
        # The kubelet looks at the container's state once a second.
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(WAIT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_follower_that_leaves_ends_the_stream_at_the_kubelet(
    cluster: Cluster, kubelet: Kubelet, namespace: str
) -> None:
    container_id, _ = running_container(
        kubelet, namespace, "gone", "app", cri_lines((NOW, "stdout", "F", "hello"))
    )
    make_pod(cluster, kubelet, namespace, "gone", [running_status("app", container_id)])
    proc = subprocess.Popen(
        [kubectl_binary(), "logs", "-f", "-n", namespace, "gone"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cluster.env(),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "hello\n"
        assert kubelet.server.active_streams == 1
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    # The API server notices within a second and closes its stream; the kubelet then does too.
    wait_until(lambda: kubelet.server.active_streams == 0)


def test_logs_previous_shows_the_last_terminated_instance(
    cluster: Cluster, kubelet: Kubelet, namespace: str
) -> None:
    container_id, _ = running_container(
        kubelet, namespace, "again", "app", cri_lines((NOW, "stdout", "F", "second life"))
    )
    old_log = kubelet.logs / f"{namespace}_again_app.0.log"
    old_log.write_bytes(cri_lines((NOW, "stdout", "F", "first life")))
    kubelet.locator.pods[(namespace, "again")]["app"].previous = ("old", old_log)
    status = running_status("app", container_id)
    status["restartCount"] = 1
    status["lastState"] = {
        "terminated": {"exitCode": 1, "reason": "Error", "containerID": "kubelite://old"}
    }
    make_pod(cluster, kubelet, namespace, "again", [status])
    assert cluster.kubectl("logs", "-n", namespace, "again", "--previous").stdout == (
        "first life\n"
    )
    assert cluster.kubectl("logs", "-n", namespace, "again").stdout == "second life\n"


def test_logs_of_a_waiting_container_say_why(
    cluster: Cluster, kubelet: Kubelet, namespace: str
) -> None:
    waiting = {
        "name": "app",
        "image": "busybox",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}},
    }
    make_pod(cluster, kubelet, namespace, "slow", [waiting])
    result = cluster.kubectl("logs", "-n", namespace, "slow", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (BadRequest): container "app" in pod "slow" is waiting to start: '
        "ContainerCreating"
    )
    result = cluster.kubectl("logs", "-n", namespace, "slow", "--previous", check=False)
    assert result.stderr.strip() == (
        'Error from server (BadRequest): previous terminated container "app" in pod "slow" '
        "not found"
    )


def test_logs_of_an_unknown_container(cluster: Cluster, web: str, namespace: str) -> None:
    result = cluster.kubectl("logs", "-n", namespace, "web", "-c", "nope", check=False)
    assert result.returncode == 1
    # kubectl checks the name itself, in the API server's words; the API checks it too.
    expected = cluster.kubectl_build().not_a_container("nope", "web", ["app"])
    assert result.stderr.strip() == f"error: {expected}"
    status, body, _ = cluster.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/web/log?container=nope"
    )
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        "container nope is not valid for pod web",
    )


def test_logs_of_a_pod_with_several_containers(
    cluster: Cluster, kubelet: Kubelet, namespace: str
) -> None:
    a, _ = running_container(kubelet, namespace, "duo", "a", cri_lines((NOW, "stdout", "F", "A")))
    b, _ = running_container(kubelet, namespace, "duo", "b", cri_lines((NOW, "stdout", "F", "B")))
    make_pod(cluster, kubelet, namespace, "duo", [running_status("a", a), running_status("b", b)])
    # The API wants a container named; kubectl picks the first itself and says so.
    status, body, _ = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/duo/log")
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        "a container name must be specified for pod duo, choose one of: [a b]",
    )
    result = cluster.kubectl("logs", "-n", namespace, "duo")
    assert (result.stdout, result.stderr) == ("A\n", 'Defaulted container "a" out of: a, b\n')
    assert cluster.kubectl("logs", "-n", namespace, "duo", "-c", "b").stdout == "B\n"


def test_invalid_log_options_are_refused(cluster: Cluster, web: str, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/web/log"
    status, body, _ = cluster.request("GET", f"{path}?tailLines=-1")
    assert (status, body["message"]) == (
        422,
        'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or '
        "equal to 0",
    )
    status, body, _ = cluster.request("GET", f"{path}?limitBytes=0")
    assert status == 422 and "limitBytes: Invalid value: 0" in body["message"]


# --- kubectl exec ---------------------------------------------------------------------------


def test_exec_passes_stdout_stderr_and_the_exit_code(
    cluster: Cluster, web: str, namespace: str
) -> None:
    result = cluster.kubectl(
        "exec",
        "-n",
        namespace,
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\ncommand terminated with exit code 3\n"
    ok = cluster.kubectl("exec", "-n", namespace, "web", "--", "echo", "fine")
    assert (ok.returncode, ok.stdout) == (0, "fine\n")


def test_exec_with_stdin(cluster: Cluster, web: str, namespace: str) -> None:
    data = "".join(f"line {i}\n" for i in range(2000))
    result = cluster.kubectl("exec", "-i", "-n", namespace, "web", "--", "cat", stdin=data)
    assert result.stdout == data


def test_exec_status_is_the_kubelet_status(cluster: Cluster, web: str, namespace: str) -> None:
    """The Python client reads channel 3 itself: the Status the kubelet writes."""
    from kubernetes.client import CoreV1Api

    api = CoreV1Api(cluster.client())
    resp = stream(
        api.connect_get_namespaced_pod_exec,
        "web",
        namespace,
        command=["sh", "-c", "exit 3"],
        stderr=True,
        stdout=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=WAIT)
    status = json.loads(resp.read_channel(3))
    resp.close()
    assert status == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }


def test_exec_with_a_terminal_follows_resizes(cluster: Cluster, web: str, namespace: str) -> None:
    from kubernetes.client import CoreV1Api

    api = CoreV1Api(cluster.client())
    resp = stream(
        api.connect_get_namespaced_pod_exec,
        "web",
        namespace,
        command=["sh", "-c", "read line; stty size; echo got $line"],
        stderr=True,
        stdout=True,
        stdin=True,
        tty=True,
        _preload_content=False,
    )
    try:
        resp.write_channel(4, json.dumps({"Width": 123, "Height": 45}))
        resp.write_stdin("hello\n")
        out = ""
        deadline = time.monotonic() + WAIT
        while resp.is_open() and time.monotonic() < deadline:
            resp.update(timeout=1)
            out += resp.read_stdout(timeout=0) or ""
        # The terminal echoes input and turns newlines into CRLF.
        assert out.replace("\r\n", "\n") == "hello\n45 123\ngot hello\n"
        assert resp.returncode == 0
    finally:
        resp.close()


def test_exec_errors(cluster: Cluster, kubelet: Kubelet, web: str, namespace: str) -> None:
    result = cluster.kubectl(
        "exec", "-n", namespace, "web", "-c", "nope", "--", "true", check=False
    )
    assert result.returncode == 1
    assert "container nope is not valid for pod web" in result.stderr
    # The kubelet's own refusal reaches kubectl (here: the container is not running there).
    kubelet.locator.pods[(namespace, "web")]["app"].current = None
    result = cluster.kubectl("exec", "-n", namespace, "web", "--", "true", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == cluster.kubectl_build().exec_refused(
        "BadRequest", 'container "app" in pod "web" is waiting to start: ContainerCreating'
    )


def test_exec_of_a_command_that_cannot_start(cluster: Cluster, web: str, namespace: str) -> None:
    result = cluster.kubectl("exec", "-n", namespace, "web", "--", "/nonexistent", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: Internal error occurred: error executing command in container: "
    )


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_exec_with_every_kubectl(
    cluster: Cluster, kubelet: Kubelet, web: str, namespace: str, version: str
) -> None:
    # kubectl 1.27 to 1.29 speak only SPDY/3.1 for exec: the API server passes the upgrade
    # through to the kubelet, whose SPDY streams carry stdin, stdout, stderr and the status.
    # 1.30 and later open a WebSocket (v5.channel.k8s.io), and fall back to SPDY if it fails.
    build = kubectl_builds.exactly(version)
    result = cluster.kubectl(
        "exec", "-n", namespace, "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
        version=version, check=False,
    )  # fmt: skip
    assert (result.stdout, result.returncode) == ("out\n", 3)
    assert "err" in result.stderr
    piped = cluster.kubectl(
        "exec", "-i", "-n", namespace, "web", "--", "cat", version=version, stdin="hello\n"
    )
    assert piped.stdout == "hello\n"
    # The kubelet's refusal reaches every client as a Status (each build words it its own way).
    entry = kubelet.locator.pods[(namespace, "web")]["app"]
    running, entry.current = entry.current, None
    try:
        refused = cluster.kubectl(
            "exec", "-n", namespace, "web", "--", "true", version=version, check=False
        )
    finally:
        entry.current = running
    assert refused.stderr.strip() == build.exec_refused(
        "BadRequest", 'container "app" in pod "web" is waiting to start: ContainerCreating'
    )
    # A container the pod lacks: the API server's 400, or kubectl's own check from 1.36 on.
    wrong = cluster.kubectl(
        "exec", "-n", namespace, "web", "-c", "nope", "--", "true", version=version, check=False
    )
    assert (wrong.returncode, wrong.stderr.strip()) == (
        1,
        build.exec_not_a_container("nope", "web", ["app"]),
    )


@pytest.mark.parametrize("version", kubectl_builds.available())
def test_port_forward_through_the_api_server(
    cluster: Cluster, kubelet: Kubelet, web: str, namespace: str, version: str
) -> None:
    # 1.27 to 1.30 upgrade to SPDY, which the API server passes through; 1.31+ tunnel the same
    # SPDY frames in a WebSocket, which the API server unwraps.
    build = kubectl_builds.exactly(version)
    page = f"hello through {version}".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    pod_side = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=pod_side.serve_forever, daemon=True).start()
    kubelet.runtime.forwards[80] = pod_side.server_address[1]
    forward = subprocess.Popen(
        [build.path, "port-forward", "-n", namespace, "pod/web", ":80"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1:"), line
        local = int(line.split(":")[1].split()[0])
        for _ in range(2):  # two connections: two stream pairs on one forward
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=WAIT) as answer:
                assert answer.read() == page
    finally:
        forward.terminate()
        forward.communicate(timeout=WAIT)
        pod_side.shutdown()
        pod_side.server_close()


# --- the kubelet's own door -----------------------------------------------------------------


def _kubelet_get(kubelet: Kubelet, path: str, cert: tuple[Path, Path] | None) -> int:
    context = ssl.create_default_context(cafile=str(kubelet.tls.client_ca))
    if cert:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    url = f"https://127.0.0.1:{kubelet.port}{path}"
    try:
        with urllib.request.urlopen(url, context=context, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _client_cert(pki: certs.Pki, directory: Path, user: str, group: str) -> tuple[Path, Path]:
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
                    x509.NameAttribute(NameOID.COMMON_NAME, user),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{user}.crt", directory / f"{user}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_the_kubelet_serves_only_the_apiserver_and_admins(
    cluster: Cluster, kubelet: Kubelet, web: str, namespace: str, tmp_path: Path
) -> None:
    pki = certs.ensure(cluster.data_dir / "tls", [], [])
    path = f"/containerLogs/{namespace}/web/app"
    assert _kubelet_get(kubelet, "/healthz", None) == 200
    assert _kubelet_get(kubelet, path, None) == 401
    nobody = _client_cert(pki, tmp_path, "someone", "developers")
    assert _kubelet_get(kubelet, path, nobody) == 403
    apiserver = (pki.kubelet_client_cert, pki.kubelet_client_key)
    assert _kubelet_get(kubelet, path, apiserver) == 200


# --- the wire, frame by frame ---------------------------------------------------------------


async def _raw_exec(
    cluster: Cluster, path: str, protocols: tuple[str, ...], stdin: bytes = b""
) -> tuple[str | None, list[bytes]]:
    """Open pods/exec as the admin with `protocols`; send stdin; return every frame received."""
    tls = cluster.data_dir / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
    frames = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(cluster.url + path, protocols=protocols, ssl=context) as ws,
    ):
        if stdin:
            await ws.send_bytes(b"\x00" + stdin)
        async for msg in ws:
            frames.append(msg.data)
        return ws.protocol, frames


@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
def test_exec_frames_carry_a_channel_byte(
    cluster: Cluster, web: str, namespace: str, protocol: str
) -> None:
    query = "command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262&stdout=1&stderr=1"
    path = f"/api/v1/namespaces/{namespace}/pods/web/exec?{query}"
    chosen, frames = asyncio.run(_raw_exec(cluster, path, ("v9.bogus", protocol)))
    assert chosen == protocol
    assert sorted(frames[:2]) == [b"\x01out\n", b"\x02err\n"]
    assert frames[2:] == [b'\x03{"metadata":{},"status":"Success"}']


def test_exec_without_a_known_subprotocol_is_refused(
    cluster: Cluster, web: str, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/web/exec?command=true&stdout=1"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        asyncio.run(_raw_exec(cluster, path, ("channel.k8s.io",)))
    assert caught.value.status == 400


def test_kubectl_exec_it_passes_its_terminal_size(
    cluster: Cluster, web: str, namespace: str
) -> None:
    """The real `kubectl exec -it`, on a pseudo-terminal of the test's own: kubectl sends the
    terminal's size on channel 4 and the command sees it."""
    master, slave = os.openpty()
    proc: subprocess.Popen[bytes] | None = None
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        proc = subprocess.Popen(
            [
                kubectl_binary(),
                "exec",
                "-it",
                "-n",
                namespace,
                "web",
                "--",
                "sh",
                "-c",
                "stty size; read x; echo got $x",
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cluster.env(),
            start_new_session=True,
        )
        out = b""
        deadline = time.monotonic() + WAIT
        while b"33 111" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 4096)
        os.write(master, b"bye\r")
        # Until the answer is read, not until kubectl exits: what it wrote last may still be
        # in the terminal's buffer when it has gone (seen in a parallel run).
        while b"got bye" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 4096)
        assert proc.wait(WAIT) == 0
        assert b"33 111" in out and b"got bye" in out
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
