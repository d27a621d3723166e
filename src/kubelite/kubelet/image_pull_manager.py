"""Whether a pod may use an image already on the node, or must pull it with its own
credentials first (KubeletEnsureSecretPulledImages, KEP-2535: beta and on since 1.35).

Without it, an image one pod pulled with its Secret is there for any pod of the node whose
`imagePullPolicy` is IfNotPresent or Never, credentials or not. The kubelet's pull manager
(`pkg/kubelet/images/pullmanager/image_pull_manager.go`) closes that:

- before a pull it writes an intent for the image, and after a successful one a pulled record
  for the image id with the credentials used: the Secret (uid, namespace, name, credential hash),
  or `nodePodsAccessible` when none were needed (an anonymous pull, or the node's own
  credentials). The intent goes when the last pull of that image in flight ended;
- for an image present on the node, `must_attempt_image_pull` decides. The verification policy
  (`imagePullCredentialsVerificationPolicy`, default `NeverVerifyPreloadedImages`) first says
  whether it matters: under the default, images the kubelet did not pull (no record, no intent)
  are trusted. Then a pod may use the image if the record says anyone on the node may, or if one
  of the pod's Secrets has the same credential hash as one that pulled it, or is the same Secret
  (uid, namespace, name: its hash is then brought up to date). A match under other coordinates
  is written into the record too (at most 100 Secrets per image name). Anything else, a record
  without an entry for the image's name included, means pulling again with the pod's own
  credentials;
- at start, an intent left behind for an image the runtime now has becomes a pulled record
  without credentials (pulled by the kubelet, by whom unknown: verified next time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kubelite.kubelet.image_pull_records import (
    MemoryPullRecords,
    PullCredentials,
    PulledRecord,
    PullRecords,
    SecretCredential,
)
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import Image
from kubelite.runtime.images import reference

log = logging.getLogger(__name__)

# writeRecordWhileMatchingLimit: past this many Secrets for an image name, a match found while
# checking is not written into the record (high namespace turnover must not grow it unbounded).
WRITE_RECORD_WHILE_MATCHING_LIMIT = 100

# imagePullCredentialsVerificationPolicy values (KubeletConfiguration).
NEVER_VERIFY = "NeverVerify"
NEVER_VERIFY_PRELOADED_IMAGES = "NeverVerifyPreloadedImages"
NEVER_VERIFY_ALLOWLISTED_IMAGES = "NeverVerifyAllowlistedImages"
ALWAYS_VERIFY = "AlwaysVerify"
DEFAULT_POLICY = NEVER_VERIFY_PRELOADED_IMAGES


def image_name(image: str) -> str:
    """trimImageTagDigest: the normalized name without tag or digest
    (`nginx:1.27` -> `docker.io/library/nginx`); raises InvalidImageReference."""
    return reference.parse(image).name


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VerificationPolicy:
    """ImagePullPolicyEnforcer: whether an image present on the node needs its credentials
    checked, given whether the kubelet pulled it."""

    name: str = DEFAULT_POLICY
    # NeverVerifyAllowlistedImages: image names (`registry/repo`) or prefixes (`registry/*`).
    allowlist: tuple[str, ...] = ()

    def require_verification(self, image: str, pulled_by_kubelet: bool) -> bool:
        if self.name == NEVER_VERIFY:
            return False
        if self.name == NEVER_VERIFY_PRELOADED_IMAGES:
            return pulled_by_kubelet
        if self.name == NEVER_VERIFY_ALLOWLISTED_IMAGES:
            return not self._allowlisted(image)
        if self.name == ALWAYS_VERIFY:
            return True
        raise ValueError(f"unknown image pull credential verification policy: {self.name}")

    def _allowlisted(self, image: str) -> bool:
        try:
            name = image_name(image)
        except runtime_errors.InvalidImageReference:
            return False
        for pattern in self.allowlist:
            if pattern.endswith("/*"):
                if name.startswith(pattern[:-1]):
                    return True
            elif name == pattern:
                return True
        return False


def _merge_secrets(
    old: Sequence[SecretCredential], new: Iterable[SecretCredential]
) -> tuple[tuple[SecretCredential, ...], bool]:
    """mergePullSecrets: unique by coordinates, the new hash winning; sorted by namespace,
    name and uid."""
    merged = {s.coordinates: s for s in old}
    changed = False
    for s in new:
        if merged.get(s.coordinates) != s:
            merged[s.coordinates] = s
            changed = True
    if not changed:
        return tuple(old), False
    ordered = sorted(merged.values(), key=lambda s: (s.namespace, s.name, s.uid))
    return tuple(ordered), True


def merge_credentials(
    record: PulledRecord, name: str, new: PullCredentials | None
) -> PulledRecord | None:
    """pulledRecordMergeNewCreds: the record with `new` merged in for `name`, or None when that
    changes nothing."""
    if new is None or (not new.node_pods_accessible and not new.secrets):
        return None
    old = record.credentials.get(name)
    if old is None:
        merged = new
    elif old.node_pods_accessible:
        return None
    elif new.node_pods_accessible:
        merged = PullCredentials(node_pods_accessible=True)
    else:
        secrets, changed = _merge_secrets(old.secrets, new.secrets)
        if not changed:
            return None
        merged = PullCredentials(secrets=secrets)
    return dataclasses.replace(
        record, last_updated=_now(), credentials={**record.credentials, name: merged}
    )


class ImagePullManager:
    """The kubelet's PullManager: intents, pulled records and the decision to pull again."""

    def __init__(
        self,
        records: PullRecords | None = None,
        policy: VerificationPolicy | None = None,
    ) -> None:
        self.records: PullRecords = records if records is not None else MemoryPullRecords()
        self.policy = policy or VerificationPolicy()
        # Pulls in flight per image (the intent file goes when the last one ends).
        self._intents: dict[str, int] = {}

    # --- around a pull ---------------------------------------------------------------------

    def record_pull_intent(self, image: str) -> None:
        """RecordPullIntent, before a pull; raises OSError when it cannot be written."""
        self.records.write_intent(image)
        self._intents[image] = self._intents.get(image, 0) + 1

    def record_image_pulled(
        self, image: str, image_ref: str, credentials: PullCredentials | None
    ) -> None:
        """RecordImagePulled: after a successful pull. If the record cannot be written the
        intent stays, so that a restarted kubelet still counts the image as its own."""
        try:
            self._write_pulled(image, image_ref, credentials)
        except (OSError, ValueError, runtime_errors.InvalidImageReference) as e:
            log.error("failed to write image pulled record for %s: %s", image_ref, e)
            return
        self._decrement_intent(image)

    def record_pull_failed(self, image: str) -> None:
        self._decrement_intent(image)

    def _decrement_intent(self, image: str) -> None:
        if self._intents.get(image, 0) <= 1:
            try:
                self.records.delete_intent(image)
            except OSError as e:
                log.error("failed to remove image pull intent for %s: %s", image, e)
                return
            self._intents.pop(image, None)
            return
        self._intents[image] -= 1

    def _write_pulled(
        self, image: str, image_ref: str, credentials: PullCredentials | None
    ) -> None:
        """writePulledRecordIfChanged."""
        name = image_name(image)
        try:
            record = self.records.get_pulled(image_ref)
        except (OSError, ValueError) as e:
            log.info("failed to read the image pulled record of %s: %s", image, e)
            record = None
        if record is None:
            # The record alone makes the image kubelet-pulled; without credentials, the next
            # pod to want it has its own checked.
            updated: PulledRecord | None = PulledRecord(
                image_ref, _now(), {name: credentials} if credentials is not None else {}
            )
        else:
            updated = merge_credentials(record, name, credentials)
        if updated is not None:
            self.records.write_pulled(updated)

    # --- the decision --------------------------------------------------------------------------

    def must_attempt_image_pull(
        self, image: str, image_ref: str, pod_secrets: Sequence[SecretCredential]
    ) -> bool:
        """MustAttemptImagePull: whether a pod with `pod_secrets` must pull `image` (present
        as `image_ref`) with its own credentials before using it."""
        if not image_ref:
            return True
        try:
            record = self.records.get_pulled(image_ref)
            pulled_by_kubelet = (
                record is not None
                or self._intents.get(image, 0) > 0
                or self.records.intent_exists(image)
            )
        except (OSError, ValueError) as e:
            log.error("unable to access cache records about image pulls: %s", e)
            return True
        if not self.policy.require_verification(image, pulled_by_kubelet):
            return False
        if record is None:
            return True
        try:
            name = image_name(image)
        except runtime_errors.InvalidImageReference:
            return True
        cached = record.credentials.get(name)
        if cached is None:
            return True
        if cached.node_pods_accessible:
            return False
        if not cached.secrets:
            return True
        room = len(cached.secrets) < WRITE_RECORD_WHILE_MATCHING_LIMIT
        for secret in pod_secrets:
            for known in cached.secrets:
                hashes_match = bool(known.credential_hash) and (
                    secret.credential_hash == known.credential_hash
                )
                same_secret = secret.coordinates == known.coordinates
                if hashes_match:
                    if not same_secret and room:
                        # Another Secret with the same credentials: remember it as one too.
                        self._remember(image, image_ref, secret)
                    return False
                if same_secret and room:
                    # The same Secret, its credentials changed since: trusted, and updated.
                    self._remember(image, image_ref, secret)
                    return False
        return True

    def _remember(self, image: str, image_ref: str, secret: SecretCredential) -> None:
        try:
            self._write_pulled(image, image_ref, PullCredentials(secrets=(secret,)))
        except (OSError, ValueError, runtime_errors.InvalidImageReference) as e:
            log.error("failed to write an image pulled record for %s: %s", image_ref, e)

    # --- at start --------------------------------------------------------------------------

    def initialize(self, images: Iterable[Image]) -> None:
        """Turn the intents a previous kubelet left behind into pulled records (without
        credentials) for the images the runtime has, matched by tag or digest."""
        try:
            intents = set(self.records.list_intents())
        except OSError as e:
            log.error("listing image pull intents failed: %s", e)
            return
        if not intents:
            return
        for found in images:
            for image in sorted(intents & {*found.repo_digests, *found.repo_tags}):
                try:
                    self._write_pulled(image, found.id, None)
                except (OSError, ValueError, runtime_errors.InvalidImageReference) as e:
                    log.error("failed to write an image pull record for %s: %s", found.id, e)
                    continue
                try:
                    self.records.delete_intent(image)
                except OSError as e:
                    log.info("failed to remove image pull intent for %s: %s", image, e)

    def prune(self, images_in_use: Iterable[str], until: str) -> None:
        """PruneUnknownRecords: drop the records of image ids the runtime no longer has, unless
        written since `until` (RFC 3339)."""
        keep = set(images_in_use)
        for record in self.records.list_pulled():
            if record.last_updated >= until or record.image_ref in keep:
                continue
            self.records.delete_pulled(record.image_ref)


# What a pull used, turned into a record's credentials (trackedToImagePullCreds): no Secret
# (an anonymous pull or the node's credentials) means any pod on the node may use the image.
def pulled_with(secret: SecretCredential | None) -> PullCredentials:
    if secret is None:
        return PullCredentials(node_pods_accessible=True)
    return PullCredentials(secrets=(secret,))


ImageLister = Callable[[], Iterable[Image]]
