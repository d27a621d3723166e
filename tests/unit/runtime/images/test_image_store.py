"""The content store and the image records: nothing partial is ever visible."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest
from image_builder import sha256

from kubelite.runtime.images.content import ContentStore
from kubelite.runtime.images.digests import BadDigest, DigestError
from kubelite.runtime.images.records import ImageRecord, LayerRecord, Records


def test_blob_is_published_only_after_its_digest_checks(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    data = b"layer bytes" * 100
    digest = sha256(data)
    writer = store.writer(digest, len(data))
    writer.write(data[:50])
    assert not store.has(digest)  # half written: not there yet
    writer.write(data[50:])
    writer.commit()
    assert store.read(digest) == data
    assert store.path(digest) == tmp_path / "blobs/sha256" / digest.split(":")[1]
    assert list(store.ingest_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("payload", "size"), [(b"wrong", None), (b"right", 3)], ids=["digest", "size"]
)
def test_mismatch_leaves_nothing(tmp_path: Path, payload: bytes, size: int | None) -> None:
    store = ContentStore(tmp_path)
    digest = sha256(b"right")
    with pytest.raises(DigestError):
        store.write_stream(io.BytesIO(payload), digest, size)
    assert not store.has(digest)
    assert list(store.ingest_dir.iterdir()) == []


def test_failure_while_writing_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest = sha256(b"abc")
    with pytest.raises(RuntimeError), store.writing(digest) as writer:
        writer.write(b"a")
        raise RuntimeError("connection dropped")
    assert not store.has(digest)
    assert list(store.ingest_dir.iterdir()) == []


def test_leftovers_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    (store.ingest_dir / "999999999-abc-def").write_bytes(b"partial")
    mine = store.ingest_dir / f"{os.getpid()}-abc-def"
    mine.write_bytes(b"in progress")
    store.clean_ingest()
    assert list(store.ingest_dir.iterdir()) == [mine]


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64, "x"])
def test_bad_digests_are_refused(tmp_path: Path, digest: str) -> None:
    with pytest.raises(BadDigest):
        ContentStore(tmp_path).path(digest)


def _record(image_id: str, tag: str) -> ImageRecord:
    layer = LayerRecord("sha256:" + "1" * 64, "sha256:" + "2" * 64, 10, "m")
    return ImageRecord(image_id, "sha256:" + "3" * 64, "m", [layer], repo_tags=[tag])


async def test_records_round_trip_and_are_replaced_whole(tmp_path: Path) -> None:
    records = Records(tmp_path)
    image = _record("sha256:" + "a" * 64, "docker.io/library/a:1")
    async with records.locked():
        records.save({image.id: image})
    assert records.load() == {image.id: image}
    # Only images.json, lock and leases: no temp file left beside the records.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.json", "leases", "lock"]


async def test_lock_serializes_read_modify_write(tmp_path: Path) -> None:
    records = Records(tmp_path)

    async def add(n: int) -> None:
        async with records.locked():
            images = records.load()
            await asyncio.sleep(0)  # give the others a chance to interleave, were it not locked
            image = _record(f"sha256:{n:064x}", f"docker.io/library/i:{n}")
            images[image.id] = image
            records.save(images)

    await asyncio.gather(*(add(n) for n in range(10)))
    assert len(records.load()) == 10


async def test_leases_of_dead_processes_are_dropped(tmp_path: Path) -> None:
    records = Records(tmp_path)
    live = records.new_lease()
    records.write_lease(live, {"sha256:" + "a" * 64})
    dead = records.leases_dir / "999999999-x.json"
    dead.write_text('["sha256:' + "b" * 64 + '"]')
    assert records.leased() == {"sha256:" + "a" * 64}
    assert not dead.exists()


def test_mounted_lowerdirs_reads_overlay_mounts(tmp_path: Path) -> None:
    from kubelite.runtime.images.layers import mounted_lowerdirs

    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "90 22 0:50 / /run/c1/rootfs rw,relatime - overlay overlay "
        "rw,lowerdir=/img/layers/aa:/img/layers/b\\040b,upperdir=/u,workdir=/w\n"
    )
    assert mounted_lowerdirs(mountinfo) == {"/img/layers/aa", "/img/layers/b b"}
    assert mounted_lowerdirs(tmp_path / "missing") == set()
