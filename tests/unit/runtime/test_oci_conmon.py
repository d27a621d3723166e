"""The conmon handshake: the sync pipe's JSON tells the container's pid or runc's error.
A fake conmon (a shell script) writes what the real one writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.oci.conmon import ConmonError, ConmonPaths, start_conmon


def fake_conmon(tmp_path: Path, reply: str) -> Path:
    script = tmp_path / "conmon"
    # Its own pid goes where -P says, as conmon writes its pid file.
    script.write_text(
        f"""#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -P ] && echo $$ > "$2"; shift; done
printf '%s\\n' '{reply}' > /proc/self/fd/$_OCI_SYNCPIPE
"""
    )
    script.chmod(0o755)
    return script


def paths(tmp_path: Path) -> ConmonPaths:
    return ConmonPaths(
        bundle=tmp_path,
        container_pidfile=tmp_path / "pidfile",
        conmon_pidfile=tmp_path / "conmon.pid",
        log_path=tmp_path / "log",
        exit_dir=tmp_path / "exits",
        persist_dir=tmp_path / "persist",
        socket_dir=tmp_path / "sock",
    )


async def start(tmp_path: Path, conmon: Path) -> tuple[int, int]:
    return await start_conmon(
        container_id="c" * 64,
        name="main",
        paths=paths(tmp_path),
        runtime=Path("/usr/sbin/runc"),
        runtime_root=tmp_path / "runc",
        terminal=False,
        stdin=False,
        conmon=conmon,
    )


async def test_success_reports_conmon_pid_and_container_pid(tmp_path: Path) -> None:
    conmon_pid, pid = await start(tmp_path, fake_conmon(tmp_path, '{"data": 4242}'))
    assert pid == 4242
    assert conmon_pid > 0
    assert (tmp_path / "exits").is_dir() and (tmp_path / "persist").is_dir()


async def test_runc_error_becomes_its_message(tmp_path: Path) -> None:
    reply = (
        '{"data": -1, "message": "time=\\"2026\\" level=error msg=\\"runc create failed: '
        'unable to start container process: exec: \\\\\\"nope\\\\\\": executable file not '
        'found in $PATH\\"\\n"}'
    )
    with pytest.raises(ConmonError) as failure:
        await start(tmp_path, fake_conmon(tmp_path, reply))
    assert str(failure.value) == (
        'runc create failed: unable to start container process: exec: "nope": '
        "executable file not found in $PATH"
    )


async def test_conmon_dying_before_a_reply_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "conmon"
    script.write_text("#!/bin/sh\necho 'bad option' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(ConmonError, match="conmon exited before creating the container: bad"):
        await start(tmp_path, script)


@pytest.mark.parametrize(
    ("leave_open", "expected"),
    [(True, ["-i", "--leave-stdin-open"]), (False, ["-i"])],
    ids=["stdin", "stdinOnce"],
)
async def test_stdin_outlives_attaches_unless_stdin_once(
    tmp_path: Path, leave_open: bool, expected: list[str]
) -> None:
    # conmon closes the container's stdin when an attached client leaves; a container with
    # `stdin` but not `stdinOnce` keeps it open for the next attach (as CRI-O asks).
    script = fake_conmon(tmp_path, '{"data": 4242}')
    script.write_text(
        script.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$@" > {tmp_path}/args\n')
    )
    await start_conmon(
        container_id="c" * 64,
        name="main",
        paths=paths(tmp_path),
        runtime=Path("/usr/sbin/runc"),
        runtime_root=tmp_path / "runc",
        terminal=True,
        stdin=True,
        leave_stdin_open=leave_open,
        conmon=script,
    )
    args = (tmp_path / "args").read_text().split()
    assert args[args.index("-t") + 1 :] == expected
