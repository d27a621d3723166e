"""`kubelite describe serviceaccount`, as kubectl 1.35's ServiceAccountDescriber prints it.

Since 1.35 (kubernetes/kubernetes#117160) kubectl no longer lists an account's mountable
secrets and token secrets, which it had to fetch every Secret of the namespace for (long-lived
token Secrets are no longer made): what is left is the account itself, its image pull secrets
(not looked up), and its events.
"""

from __future__ import annotations

import datetime as dt

from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.printing import PrefixWriter, multiline, named_with_labels


def describe_service_account(account: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeServiceAccount."""
    w = PrefixWriter()
    named_with_labels(w, account)
    names = [ref.get("name", "") for ref in account.get("imagePullSecrets") or []]
    # kubectl lines the further names up under a blank title as wide as this one: the same text.
    multiline(w, "Image pull secrets", names)
    describe_events(w, events, now)
    return w.text()
