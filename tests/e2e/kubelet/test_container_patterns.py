"""Init containers, native sidecars, probes, limits and deadlines on a real node, as Kubernetes
runs and reports them."""

from __future__ import annotations

import os
import time

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, get_pod, phase, pod_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def test_init_containers_run_one_after_another_then_the_app(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: inits}
spec:
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - {name: first, image: busybox, command: [sh, -c, "echo one > /work/order"],
     volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, image: busybox, command: [sh, -c, "sleep 1; echo two >> /work/order"],
     volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: app, image: busybox, command: [sh, -c, "cat /work/order; sleep 3600"],
     volumeMounts: [{name: work, mountPath: /work}]}
""",
    )
    try:
        seen = wait_for(
            "the second init container",
            lambda: "Init:1/2" in (out := node.kubectl("get", "pod", "inits").stdout) and out,
        )
        assert "Init:1/2" in seen
        pod = wait_for("inits to be Ready", lambda: pod_ready(node, "inits"))
        inits = pod["status"]["initContainerStatuses"]
        assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
        assert node.kubectl("logs", "inits").stdout == "one\ntwo\n"
    finally:
        delete_pod(node, "inits")


def test_a_native_sidecar_runs_beside_the_app_and_the_job_still_completes(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: job-with-sidecar}
spec:
  terminationGracePeriodSeconds: 1  # sleep as PID 1 ignores SIGTERM
  restartPolicy: Never
  initContainers:
  - {name: sidecar, image: busybox, restartPolicy: Always, command: [sleep, "3600"]}
  containers:
  - {name: job, image: busybox, command: [sh, -c, "sleep 2; echo done"]}
""",
    )
    try:
        running = wait_for(
            "both to run",
            lambda: (
                (p := get_pod(node, "job-with-sidecar"))["status"].get("phase") == "Running" and p
            ),
        )
        sidecar = running["status"]["initContainerStatuses"][0]
        assert sidecar["started"] is True and "running" in sidecar["state"]
        done = wait_for(
            "the job to complete",
            lambda: (
                (p := get_pod(node, "job-with-sidecar"))["status"].get("phase") == "Succeeded" and p
            ),
        )
        assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    finally:
        delete_pod(node, "job-with-sidecar")


def test_a_failing_liveness_probe_restarts_the_container(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 1  # sleep as PID 1 ignores SIGTERM
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 1
""",
    )
    try:
        restarted = wait_for(
            "a restart",
            lambda: (
                (s := get_pod(node, "liveness")["status"].get("containerStatuses"))
                and s[0]["restartCount"] >= 1
                and s[0]
            ),
        )
        assert restarted["lastState"]["terminated"]["exitCode"] in (137, 143)
        events = node.kubectl("events", "--for", "pod/liveness").stdout
        assert "Liveness probe failed" in events
        assert "Container main failed liveness probe, will be restarted" in events
    finally:
        delete_pod(node, "liveness")


def test_readiness_follows_the_readiness_probe(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: readiness}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "sleep 3600"]
    readinessProbe:
      exec: {command: [cat, /tmp/ready]}
      periodSeconds: 1
""",
    )
    try:
        wait_for("the container to run", lambda: phase(node, "readiness") == "Running")
        assert not pod_ready(node, "readiness")
        node.kubectl("exec", "readiness", "--", "touch", "/tmp/ready")
        wait_for("Ready", lambda: pod_ready(node, "readiness"))
        node.kubectl("exec", "readiness", "--", "rm", "/tmp/ready")
        wait_for("not Ready again", lambda: not pod_ready(node, "readiness"))
    finally:
        delete_pod(node, "readiness")


def test_a_container_over_its_memory_limit_is_oom_killed(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: hungry}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "x=a; while true; do x=$x$x; done"]
    resources: {limits: {memory: 32Mi}}
""",
    )
    try:
        wait_for("the pod to fail", lambda: phase(node, "hungry") == "Failed")
        terminated = get_pod(node, "hungry")["status"]["containerStatuses"][0]["state"][
            "terminated"
        ]
        assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
        assert "OOMKilled" in node.kubectl("get", "pod", "hungry").stdout
    finally:
        delete_pod(node, "hungry")


def test_an_active_deadline_fails_the_pod_with_deadline_exceeded(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: deadline}
spec:
  terminationGracePeriodSeconds: 1  # sleep as PID 1 ignores SIGTERM
  activeDeadlineSeconds: 3
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
""",
    )
    try:
        started = time.monotonic()
        wait_for("the pod to fail", lambda: phase(node, "deadline") == "Failed")
        assert time.monotonic() - started < 30
        status = get_pod(node, "deadline")["status"]
        assert status["reason"] == "DeadlineExceeded"
        assert "DeadlineExceeded" in node.kubectl("get", "pod", "deadline").stdout
    finally:
        delete_pod(node, "deadline")


def test_a_pre_stop_hook_runs_before_the_container_is_stopped(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: prestop}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: out, hostPath: {path: /tmp/kubelite-e2e-prestop, type: DirectoryOrCreate}}]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "trap 'echo term >> /out/seen; exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      preStop: {exec: {command: [sh, -c, "echo prestop >> /out/seen"]}}
""",
    )
    seen = "/tmp/kubelite-e2e-prestop/seen"
    try:
        wait_for("prestop to run", lambda: phase(node, "prestop") == "Running")
        node.kubectl("delete", "pod", "prestop", "--timeout=60s")
        with open(seen) as f:
            assert f.read().split() == ["prestop", "term"]
    finally:
        delete_pod(node, "prestop")
        for path in (seen, "/tmp/kubelite-e2e-prestop"):
            if os.path.isdir(path):
                os.rmdir(path)
            elif os.path.exists(path):
                os.remove(path)


def test_termination_messages_come_from_the_file_or_the_log(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: last-words}
spec:
  restartPolicy: Never
  containers:
  - name: file
    image: busybox
    command: [sh, -c, "echo written to the file > /dev/termination-log; exit 0"]
  - name: logs
    image: busybox
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, "echo it went wrong; exit 2"]
""",
    )
    try:
        wait_for("the pod to end", lambda: phase(node, "last-words") == "Failed")
        by_name = {
            s["name"]: s["state"]["terminated"]
            for s in get_pod(node, "last-words")["status"]["containerStatuses"]
        }
        assert by_name["file"]["message"] == "written to the file\n"
        assert by_name["logs"]["message"] == "it went wrong\n"
        assert by_name["logs"]["reason"] == "Error"
    finally:
        delete_pod(node, "last-words")


def test_on_failure_restarts_a_failing_container_into_crash_loop_back_off(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: on-failure}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: main, image: busybox, command: [sh, -c, "exit 1"]}
""",
    )
    try:
        wait_for(
            "CrashLoopBackOff",
            lambda: "CrashLoopBackOff" in node.kubectl("get", "pod", "on-failure").stdout,
        )
        status = get_pod(node, "on-failure")["status"]
        assert status["phase"] == "Running" or status["phase"] == "Pending"
        assert status["containerStatuses"][0]["restartCount"] >= 1
    finally:
        delete_pod(node, "on-failure")
