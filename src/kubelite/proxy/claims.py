"""Map and set elements that more than one Service may want.

Each Service's rules name the elements it wants (`service-ips`: address . protocol . port ->
its chain, `hairpin`: an endpoint's `ip . ip`, ...). Two Services can want the same key:
Kubernetes lets two Services list the same externalIP and port, and one pod can be the endpoint
of many Services. nft refuses a second element with a key already in a map, and a sync refused
for that would stop every sync after it; so each key goes to one claimant, the oldest Service
(by creation time, then name), and passes to the next when that one lets it go. A shared set
element (the same value from every claimant) simply stays while any Service wants it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (map or set name, element key)
# Who claims: (creationTimestamp, "namespace/name"); the smallest wins.
Claimant = tuple[str, str]


@dataclass
class ClaimChange:
    """One Service's elements before and after a sync (claimant None: it had or has none)."""

    old_claimant: Claimant | None
    old: Mapping[Key, str]
    new_claimant: Claimant | None
    new: Mapping[Key, str]


class ElementClaims:
    """Which Service owns each nftables map or set element several Services may want, so that a
    shared key is written once and handed on when its owner lets go."""

    def __init__(self, claims: dict[Key, dict[Claimant, str]] | None = None) -> None:
        self._claims = claims or {}

    def value(self, key: Key) -> str | None:
        """The element's value in the table (None: not there)."""
        claims = self._claims.get(key)
        return claims[min(claims)] if claims else None

    def effective(self) -> dict[Key, str]:
        """Every element the table holds."""
        return {key: claims[min(claims)] for key, claims in self._claims.items() if claims}

    def update(
        self, changes: Iterable[ClaimChange]
    ) -> tuple[ElementClaims, list[tuple[Key, str]], list[tuple[Key, str]]]:
        """The claims after `changes` (self is left as it is, for a sync that may fail), with
        the elements to delete and to add to get there."""
        changes = list(changes)
        claims = dict(self._claims)
        # The keys touched, in the order met (a dict: the file's lines come out the same way
        # every run).
        copied: dict[Key, None] = {}

        def own(key: Key) -> dict[Claimant, str]:
            if key not in copied:
                claims[key] = dict(claims.get(key) or {})
                copied[key] = None
            return claims[key]

        for change in changes:
            if change.old_claimant is not None:
                for key in change.old:
                    own(key).pop(change.old_claimant, None)
            if change.new_claimant is not None:
                for key, value in change.new.items():
                    own(key)[change.new_claimant] = value
        after = ElementClaims(claims)
        deletes: list[tuple[Key, str]] = []
        adds: list[tuple[Key, str]] = []
        for key in copied:
            before, now = self.value(key), after.value(key)
            if not claims[key]:
                del claims[key]
            if before != now:
                if before is not None:
                    deletes.append((key, before))
                if now is not None:
                    adds.append((key, now))
        for change in changes:
            if change.new_claimant is None:
                continue
            for key, value in change.new.items():
                winner = min(claims[key])
                if winner != change.new_claimant and claims[key][winner] != value:
                    log.warning(
                        "%s: %s %s is already %s's", change.new_claimant[1], key[0], key[1],
                        winner[1],
                    )  # fmt: skip
        return after, deletes, adds
