"""KubeletEnsureSecretPulledImages (KEP-2535, beta on since 1.35): the kubelet records which
credentials pulled an image, and a pod that cannot show them pulls again with its own."""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet.image_pull_manager import (
    ALWAYS_VERIFY,
    NEVER_VERIFY,
    NEVER_VERIFY_ALLOWLISTED_IMAGES,
    ImagePullManager,
    VerificationPolicy,
    pulled_with,
)
from kubelite.kubelet.image_pull_records import FilePullRecords, SecretCredential
from kubelite.kubelet.images import ImagePuller, ImagePullError
from kubelite.kubelet.pull_secrets import PodCredential, SecretRef, credential_hash
from kubelite.runtime import errors
from kubelite.runtime.cri import AuthConfig, Image, ImageConfig

IMAGE = "registry.example.com/team/app:1"
NAME = "registry.example.com/team/app"
GOOD = AuthConfig(username="team", password="secret")
OTHER = AuthConfig(username="someone", password="else")


class Registry:
    """An image store in front of a private registry: pulls need GOOD, or nothing for images
    listed as public. Records the credentials of every pull."""

    def __init__(self, present: set[str] = frozenset(), public: set[str] = frozenset()) -> None:
        self.present = set(present)
        self.public = set(public)
        self.pulls: list[AuthConfig | None] = []
        self.during_pull: list[list[str]] = []
        self.intent_dir: Path | None = None

    async def image_status(self, image: str) -> Image | None:
        ref = image if image.startswith("sha256:") else f"sha256:{image}"
        if image in self.present or (image.startswith("sha256:") and image[7:] in self.present):
            return Image(ref, [f"{image}"], [], 1234, ImageConfig())
        return None

    async def list_images(self) -> list[Image]:
        return [Image(f"sha256:{i}", [i], [], 1234, ImageConfig()) for i in self.present]

    async def pull_image(self, image: str, auth: AuthConfig | None = None, **_: object) -> str:
        self.pulls.append(auth)
        if self.intent_dir is not None:
            self.during_pull.append(sorted(p.name for p in self.intent_dir.iterdir()))
        if image not in self.public and auth != GOOD:
            raise errors.ImageError(image, "pull access denied: authorization failed")
        self.present.add(image)
        return f"sha256:{image}"


def secret_cred(auth: AuthConfig, name: str, uid: str, namespace: str = "team") -> PodCredential:
    return PodCredential(auth, SecretRef(uid, namespace, name), credential_hash(auth))


def pod(uid: str, namespace: str = "team") -> dict:
    return {"metadata": {"name": uid, "namespace": namespace, "uid": uid}}


async def ensure(
    puller: ImagePuller, who: dict, policy: str, creds: list[PodCredential], image: str = IMAGE
) -> tuple[str, list[tuple[str, str, str]]]:
    events: list[tuple[str, str, str]] = []

    async def record(kind: str, reason: str, message: str) -> None:
        events.append((kind, reason, message))

    try:
        return await puller.ensure(who, image, policy, record, auths=creds), events
    except ImagePullError as e:
        return f"{e.reason}: {e.message}", events


@pytest.fixture
def registry() -> Registry:
    return Registry()


def puller_at(root: Path, registry: Registry, **policy: Any) -> ImagePuller:
    manager = ImagePullManager(FilePullRecords(root), VerificationPolicy(**policy))
    return ImagePuller(registry, pull_manager=manager)


def test_the_credential_hash_is_the_kubelets() -> None:
    # pkg/credentialprovider/secrets' test: user/password hash to this.
    assert credential_hash(AuthConfig(username="user", password="password")) == (
        "a55436fc140d516560d072c5fe8700385ce9f41629abf65c1edcbcb39fac691d"
    )


async def test_a_pull_with_a_secret_is_recorded_as_the_kubelet_writes_it(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    registry.intent_dir = tmp_path / "image_manager" / "pulling"
    creds = [secret_cred(OTHER, "wrong", "uid-0"), secret_cred(GOOD, "regcred", "uid-1")]
    image_id, events = await ensure(puller, pod("a"), "IfNotPresent", creds)
    assert image_id == f"sha256:{IMAGE}"
    assert [e[1] for e in events] == ["Pulling", "Pulled"]
    # The intent was there during the pull (both tries), and is gone after it.
    intent = "sha256-" + sha256(IMAGE.encode()).hexdigest()
    assert registry.during_pull == [[intent], [intent]]
    assert list(registry.intent_dir.iterdir()) == []
    pulled = (
        tmp_path / "image_manager" / "pulled" / ("sha256-" + sha256(image_id.encode()).hexdigest())
    )
    record = json.loads(pulled.read_text())
    assert record["kind"] == "ImagePulledRecord"
    assert record["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert record["imageRef"] == image_id
    # Only the Secret whose credentials pulled it.
    assert record["credentialMapping"] == {
        NAME: {
            "kubernetesSecrets": [
                {
                    "uid": "uid-1",
                    "namespace": "team",
                    "name": "regcred",
                    "credentialHash": credential_hash(GOOD),
                }
            ]
        }
    }
    assert pulled.stat().st_mode & 0o777 == 0o600


async def test_a_pod_without_the_secret_pulls_again_and_is_refused(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    await ensure(puller, pod("a"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    registry.pulls.clear()
    result, events = await ensure(puller, pod("b", "other"), "IfNotPresent", [])
    assert registry.pulls == [None]
    assert result == "ErrImagePull: pull access denied: authorization failed"
    assert events[0] == ("Normal", "Pulling", f'Pulling image "{IMAGE}"')
    assert events[1][:2] == ("Warning", "Failed")
    # Its own Secret with other credentials: pulled with those, refused too.
    result, _ = await ensure(
        puller, pod("c", "other"), "IfNotPresent", [secret_cred(OTHER, "mine", "uid-9", "other")]
    )
    assert result.startswith("ErrImagePull")


async def test_under_never_an_image_the_pod_may_not_use_is_said_not_present(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    await ensure(puller, pod("a"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    result, events = await ensure(puller, pod("b", "other"), "Never", [])
    message = f'Container image "{IMAGE}" is not present with pull policy of Never'
    assert result == f"ErrImageNeverPull: {message}"
    assert events == [("Warning", "ErrImageNeverPull", message)]


async def test_the_same_secret_uses_the_cached_image(tmp_path: Path, registry: Registry) -> None:
    puller = puller_at(tmp_path, registry)
    creds = [secret_cred(GOOD, "regcred", "uid-1")]
    await ensure(puller, pod("a"), "IfNotPresent", creds)
    registry.pulls.clear()
    image_id, events = await ensure(puller, pod("b"), "IfNotPresent", creds)
    assert image_id == f"sha256:{IMAGE}" and registry.pulls == []
    assert events == [
        (
            "Normal",
            "Pulled",
            f'Container image "{IMAGE}" already present on machine and can be accessed by the pod',
        )
    ]


async def test_another_secret_with_the_same_credentials_is_trusted_and_remembered(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    await ensure(puller, pod("a"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    copy = secret_cred(GOOD, "copy", "uid-2", "elsewhere")
    registry.pulls.clear()
    await ensure(puller, pod("b", "elsewhere"), "IfNotPresent", [copy])
    assert registry.pulls == []
    record = FilePullRecords(tmp_path).get_pulled(f"sha256:{IMAGE}")
    assert record is not None
    assert [s.coordinates for s in record.credentials[NAME].secrets] == [
        ("uid-2", "elsewhere", "copy"),
        ("uid-1", "team", "regcred"),
    ]


async def test_the_same_secret_with_rotated_credentials_is_trusted_and_updated(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    await ensure(puller, pod("a"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    rotated = secret_cred(AuthConfig(username="team", password="rotated"), "regcred", "uid-1")
    registry.pulls.clear()
    await ensure(puller, pod("b"), "IfNotPresent", [rotated])
    assert registry.pulls == []
    record = FilePullRecords(tmp_path).get_pulled(f"sha256:{IMAGE}")
    assert record is not None
    assert [s.credential_hash for s in record.credentials[NAME].secrets] == [rotated.hash]


async def test_an_anonymous_pull_lets_any_pod_use_the_image(tmp_path: Path) -> None:
    registry = Registry(public={"busybox:1.36"})
    puller = puller_at(tmp_path, registry)
    await ensure(puller, pod("a"), "IfNotPresent", [], image="busybox:1.36")
    record = FilePullRecords(tmp_path).get_pulled("sha256:busybox:1.36")
    assert record is not None
    assert record.credentials["docker.io/library/busybox"].node_pods_accessible
    registry.pulls.clear()
    image_id, _ = await ensure(puller, pod("b", "other"), "Never", [], image="busybox:1.36")
    assert image_id == "sha256:busybox:1.36" and registry.pulls == []


async def test_images_the_kubelet_did_not_pull_are_trusted_by_default(tmp_path: Path) -> None:
    registry = Registry(present={IMAGE})
    puller = puller_at(tmp_path, registry)
    image_id, events = await ensure(puller, pod("b"), "Never", [])
    assert image_id == f"sha256:{IMAGE}" and registry.pulls == []
    assert events[0][2].endswith("already present on machine and can be accessed by the pod")


@pytest.mark.parametrize(
    ("policy", "allowlist", "pulls"),
    [
        (ALWAYS_VERIFY, (), 1),
        (NEVER_VERIFY_ALLOWLISTED_IMAGES, ("registry.example.com/*",), 0),
        (NEVER_VERIFY_ALLOWLISTED_IMAGES, ("registry.example.com/team/app",), 0),
        (NEVER_VERIFY_ALLOWLISTED_IMAGES, ("registry.example.com/other",), 1),
    ],
)
async def test_other_policies_check_preloaded_images_too(
    tmp_path: Path, policy: str, allowlist: tuple[str, ...], pulls: int
) -> None:
    registry = Registry(present={IMAGE})
    puller = puller_at(tmp_path, registry, name=policy, allowlist=allowlist)
    await ensure(puller, pod("b"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    assert len(registry.pulls) == pulls


async def test_never_verify_trusts_even_images_the_kubelet_pulled(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry, name=NEVER_VERIFY)
    await ensure(puller, pod("a"), "IfNotPresent", [secret_cred(GOOD, "regcred", "uid-1")])
    registry.pulls.clear()
    image_id, _ = await ensure(puller, pod("b", "other"), "IfNotPresent", [])
    assert image_id == f"sha256:{IMAGE}" and registry.pulls == []


async def test_the_records_outlive_the_kubelet(tmp_path: Path, registry: Registry) -> None:
    await ensure(
        puller_at(tmp_path, registry), pod("a"), "IfNotPresent", [secret_cred(GOOD, "r", "u1")]
    )
    restarted = puller_at(tmp_path, registry)
    result, _ = await ensure(restarted, pod("b", "other"), "Never", [])
    assert result.startswith("ErrImageNeverPull")


async def test_a_pull_left_unfinished_makes_the_image_the_kubelets_with_no_credentials(
    tmp_path: Path,
) -> None:
    # The previous kubelet stopped mid-pull; the runtime finished it.
    FilePullRecords(tmp_path).write_intent(IMAGE)
    registry = Registry(present={IMAGE})
    manager = ImagePullManager(FilePullRecords(tmp_path))
    manager.initialize(await registry.list_images())
    assert FilePullRecords(tmp_path).list_intents() == []
    record = FilePullRecords(tmp_path).get_pulled(f"sha256:{IMAGE}")
    assert record is not None and record.credentials == {}
    # So any pod, even one whose Secret would do, proves it by pulling.
    puller = ImagePuller(registry, pull_manager=manager)
    image_id, _ = await ensure(puller, pod("b"), "IfNotPresent", [secret_cred(GOOD, "r", "u1")])
    assert image_id == f"sha256:{IMAGE}" and registry.pulls == [GOOD]


async def test_a_failed_pull_leaves_no_intent_and_no_record(
    tmp_path: Path, registry: Registry
) -> None:
    puller = puller_at(tmp_path, registry)
    result, _ = await ensure(puller, pod("a"), "IfNotPresent", [])
    assert result.startswith("ErrImagePull")
    records = FilePullRecords(tmp_path)
    assert records.list_intents() == [] and records.list_pulled() == []
    # Within the back-off nothing is pulled, and the intent does not linger either.
    result, _ = await ensure(puller, pod("a"), "IfNotPresent", [])
    assert result.startswith("ImagePullBackOff")
    assert records.list_intents() == []


def test_a_record_for_another_image_id_is_not_taken(tmp_path: Path) -> None:
    records = FilePullRecords(tmp_path)
    manager = ImagePullManager(records)
    manager.record_pull_intent(IMAGE)
    manager.record_image_pulled(IMAGE, "sha256:one", None)
    target = records.pulled / ("sha256-" + sha256(b"sha256:two").hexdigest())
    target.write_bytes(
        (records.pulled / ("sha256-" + sha256(b"sha256:one").hexdigest())).read_bytes()
    )
    assert records.get_pulled("sha256:two") is None
    assert manager.must_attempt_image_pull(IMAGE, "sha256:two", []) is False  # not the kubelet's


def test_pod_secrets_are_matched_by_hash_only_when_one_was_recorded() -> None:
    manager = ImagePullManager()
    manager.record_pull_intent(IMAGE)
    manager.record_image_pulled(
        IMAGE, "sha256:x", pulled_with(SecretCredential("u1", "team", "r", ""))
    )
    assert manager.must_attempt_image_pull(
        IMAGE, "sha256:x", [SecretCredential("u9", "x", "y", "")]
    )
