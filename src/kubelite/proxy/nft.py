"""Running `nft -f`: one file, one kernel transaction.

The command is configurable (`("ip", "netns", "exec", "node1", "nft")` programs another
network namespace), so that tests and benchmarks can give the proxy a node of their own.
A refused file raises `NftError` with nft's message and the lines of the file it points at,
so that the log says which rule the kernel refused.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Sequence

_LINE = re.compile(r"^(?:/dev/stdin|-):(\d+):", re.MULTILINE)


class NftError(Exception):
    """nft refused a file; `rules` holds the lines it complained about."""

    def __init__(self, message: str, rules: list[str]) -> None:
        self.message = message
        self.rules = rules
        shown = "\n".join(rules[:5])
        super().__init__(f"{message.strip()}\nrefused rules:\n{shown}" if rules else message)


def _error(stderr: str, text: str) -> NftError:
    lines = text.splitlines()
    numbers = sorted({int(m) for m in _LINE.findall(stderr)})
    return NftError(stderr, [lines[n - 1] for n in numbers if 0 < n <= len(lines)])


class Nft:
    """Applies nft files with the given command (default `nft`)."""

    def __init__(self, command: Sequence[str] = ("nft",)) -> None:
        self.command = list(command)

    def _argv(self, check: bool) -> list[str]:
        return [*self.command, *(["-c"] if check else []), "-f", "-"]

    async def apply(self, text: str, *, check: bool = False) -> None:
        """Apply (or with `check`, only validate in the kernel) `text` as one transaction."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv(check),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, err = await proc.communicate(text.encode())
        if proc.returncode != 0:
            raise _error(err.decode(errors="replace"), text)

    def apply_sync(self, text: str, *, check: bool = False) -> None:
        """`apply` for callers with no event loop (`kubelite reset`, tests)."""
        proc = subprocess.run(self._argv(check), input=text.encode(), capture_output=True)
        if proc.returncode != 0:
            raise _error(proc.stderr.decode(errors="replace"), text)

    def list_table(self, family: str, table: str) -> str | None:
        """`nft list table`, or None when the table does not exist."""
        proc = subprocess.run(
            [*self.command, "list", "table", family, table], capture_output=True, text=True
        )
        return proc.stdout if proc.returncode == 0 else None
