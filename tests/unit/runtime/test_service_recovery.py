"""What a new RuntimeService makes of the records a previous one left (no containers needed:
the records, exit files and conmon's oom marker are written here by hand)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.runtime import cri
from kubelite.runtime.errors import NotFound
from kubelite.runtime.service import OciRuntimeService
from kubelite.runtime.state import ContainerRecord, SandboxRecord, StateStore


class NoImages:
    async def image_status(self, image: str) -> None:
        return None


def service(tmp_path: Path) -> OciRuntimeService:
    return OciRuntimeService(
        image_service=NoImages(),  # type: ignore[arg-type]
        state_dir=tmp_path / "run",
        root_dir=tmp_path / "data",
    )


def running_record(tmp_path: Path, cid: str) -> ContainerRecord:
    bundle = tmp_path / "run" / "containers" / cid
    return ContainerRecord(
        id=cid,
        sandbox_id="sb1",
        config=cri.ContainerConfig(metadata=cri.ContainerMetadata(name=cid), image="img"),
        state=cri.ContainerState.CONTAINER_RUNNING,
        created_at=1,
        image_ref="sha256:x",
        bundle=str(bundle),
        rootfs=str(bundle / "rootfs"),
        upper_dir=str(tmp_path / "data" / cid / "upper"),
        log_path=str(tmp_path / "log"),
        cgroups_path=f"/kl-unit-test-none/{cid}",
        stop_signal="SIGTERM",
        pid=999999,
        conmon_pid=0,  # no monitor alive: the exit file alone tells what happened
        started_at=2,
    )


def leave(tmp_path: Path, record: ContainerRecord, exit_code: int, *, oom: bool) -> None:
    store = StateStore(tmp_path / "run")
    (Path(record.bundle) / "persist").mkdir(parents=True)
    store.save_container(record)
    exits = tmp_path / "run" / "exits"
    exits.mkdir(parents=True, exist_ok=True)
    (exits / record.id).write_text(str(exit_code))
    if oom:
        (Path(record.bundle) / "persist" / "oom").touch()


@pytest.mark.parametrize(
    ("exit_code", "oom", "reason"),
    [(0, False, "Completed"), (3, False, "Error"), (137, True, "OOMKilled"), (137, False, "Error")],
)
async def test_exit_while_down_is_read_from_the_exit_file(
    tmp_path: Path, exit_code: int, oom: bool, reason: str
) -> None:
    record = running_record(tmp_path, "c1")
    leave(tmp_path, record, exit_code, oom=oom)
    exit_file = tmp_path / "run" / "exits" / "c1"
    os.utime(exit_file, ns=(5_000, 5_000))
    status = await service(tmp_path).container_status("c1")
    assert (status.state, status.exit_code, status.reason) == (
        cri.ContainerState.CONTAINER_EXITED,
        exit_code,
        reason,
    )
    assert status.finished_at == 5_000  # when conmon wrote the exit file
    assert status.pid == 0


async def test_sandbox_records_are_found_again(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "run")
    record = SandboxRecord(
        id="sb1",
        config=cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata("web", "u1", "ns")),
        state=cri.PodSandboxState.SANDBOX_READY,
        created_at=1,
        hostname="web",
        cgroup_parent="/kubelite/sb1",
        ip="10.42.0.2",
    )
    store.sandbox_dir(record.id).mkdir()
    store.save_sandbox(record)
    (found,) = await service(tmp_path).list_pod_sandboxes()
    assert (found.id, found.ip, found.state) == ("sb1", "10.42.0.2", record.state)


async def test_unknown_ids_are_not_found_and_removal_of_them_is_fine(tmp_path: Path) -> None:
    svc = service(tmp_path)
    with pytest.raises(NotFound):
        await svc.container_status("nope")
    with pytest.raises(NotFound):
        await svc.pod_sandbox_status("nope")
    await svc.remove_container("nope")
    await svc.remove_pod_sandbox("nope")
    await svc.stop_pod_sandbox("nope")


def test_only_runc_and_crun(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runc or crun"):
        OciRuntimeService(
            image_service=NoImages(),  # type: ignore[arg-type]
            state_dir=tmp_path / "run",
            root_dir=tmp_path / "data",
            oci_runtime="kata",
        )
