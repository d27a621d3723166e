"""The three patch formats of the Kubernetes API, as pure functions over JSON objects.

A PATCH request names its format in its Content-Type, and each format changes an object its own way:

- `application/json-patch+json`: RFC 6902 operations (`json_patch`);
- `application/merge-patch+json`: RFC 7386 merge patch, where null deletes (`merge_patch`);
- `application/strategic-merge-patch+json`: Kubernetes' own merge patch, which merges lists of
  containers, ports, volumes ... by a key the schema names (`strategic`).

`threeway` makes the patches that client-side `kubectl apply` sends: the difference between the last
applied configuration, the new manifest and the live object.

Objects go in and out as plain dicts of Kubernetes JSON; no function mutates its arguments. Every
failure is a `PatchError`, which is a `StatusError` carrying the code, reason and message the
Kubernetes API server answers with for the same patch, so the API server can raise it as it is.
"""

from __future__ import annotations

from kubelite.api.errors import (
    REASON_BAD_REQUEST,
    REASON_INVALID,
    REASON_REQUEST_ENTITY_TOO_LARGE,
    StatusError,
)

# metav1.StatusReasonUnknown: what a Status says when the server had no better reason than the
# error's own text, e.g. for a strategic merge patch whose list item lacks its merge key.
REASON_UNKNOWN = ""

# The message of `errors.NewGenericServerResponse(422, ...)`: the API server answers with it, not
# with the underlying error, when a JSON patch operation fails or a strategic merge patch holds a
# list of lists.
GENERIC_INVALID_MESSAGE = "the server rejected our request due to an error in our request"


class PatchError(StatusError):
    """A patch that cannot be applied or created.

    `message` is what the Kubernetes API server puts in its Status; `detail` is the error the
    patch library itself gave, which is the same text except where Kubernetes hides it behind a
    generic message (failed JSON patch operations), and is what a log line should show.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = 500,
        reason: str = REASON_UNKNOWN,
        detail: str | None = None,
    ) -> None:
        super().__init__(code, reason, message)
        self.detail = message if detail is None else detail

    @classmethod
    def bad_request(cls, message: str) -> PatchError:
        """400 BadRequest: the patch document itself is malformed."""
        return cls(message, code=400, reason=REASON_BAD_REQUEST)

    @classmethod
    def invalid(cls, detail: str) -> PatchError:
        """422 Invalid with Kubernetes' generic text; `detail` says what really went wrong."""
        return cls(GENERIC_INVALID_MESSAGE, code=422, reason=REASON_INVALID, detail=detail)

    @classmethod
    def too_large(cls, message: str) -> PatchError:
        """413 RequestEntityTooLarge, worded like errors.NewRequestEntityTooLargeError."""
        return cls(
            f"Request entity too large: {message}",
            code=413,
            reason=REASON_REQUEST_ENTITY_TOO_LARGE,
        )

    @classmethod
    def unknown(cls, message: str) -> PatchError:
        """400 BadRequest with the library's words. Kubernetes passes these errors through as
        they are, which makes them 500s with no reason; they are all the patch's fault, and a
        client's mistake is never a server error here, so kubelite answers 400."""
        return cls(message, code=400, reason=REASON_BAD_REQUEST)

    def __repr__(self) -> str:
        return f"PatchError({self.code}, {self.reason!r}, {self.detail!r})"


# The modules below raise PatchError, so they can only be imported once it exists.
from kubelite.api.patch.json_patch import apply_json_patch  # noqa: E402
from kubelite.api.patch.merge_patch import apply_merge_patch, create_merge_patch  # noqa: E402
from kubelite.api.patch.strategic import apply_strategic_merge_patch  # noqa: E402
from kubelite.api.patch.threeway import (  # noqa: E402
    create_three_way_json_merge_patch,
    create_three_way_merge_patch,
    create_two_way_merge_patch,
)

__all__ = [
    "GENERIC_INVALID_MESSAGE",
    "REASON_UNKNOWN",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "create_merge_patch",
    "create_three_way_json_merge_patch",
    "create_three_way_merge_patch",
    "create_two_way_merge_patch",
]
