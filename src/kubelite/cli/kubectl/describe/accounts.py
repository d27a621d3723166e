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
from kubelite.cli.kubectl.describe.printing import NONE, PrefixWriter, named_with_labels

PULL_HEADER = "Image pull secrets:"
# The blank title of the further names, as wide as the header, so the names line up.
EMPTY_HEADER = " " * len(PULL_HEADER)


def describe_service_account(account: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeServiceAccount."""
    w = PrefixWriter()
    named_with_labels(w, account)
    names = [ref.get("name", "") for ref in account.get("imagePullSecrets") or []]
    if not names:
        w.write(0, f"{PULL_HEADER}\t{NONE}\n")
    for i, name in enumerate(names):
        w.write(0, f"{EMPTY_HEADER if i else PULL_HEADER}\t{name}\n")
    describe_events(w, events, now)
    return w.text()
