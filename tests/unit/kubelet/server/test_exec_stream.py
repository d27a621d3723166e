"""The kubelet's exec statuses and who may call the kubelet."""

from __future__ import annotations

from kubelite.kubelet.server import auth, exec_stream
from kubelite.runtime.cri import TerminalSize


def test_a_non_zero_exit_is_worded_as_the_kubelet_words_it() -> None:
    assert exec_stream.exit_status(["sh", "-c", "exit 3"], 3) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    assert exec_stream.success_status() == {"metadata": {}, "status": "Success"}


def test_flags_accept_what_clients_send() -> None:
    query = {"stdin": "true", "stdout": "1", "stderr": "false", "tty": "True"}
    assert [exec_stream.flag(query, f) for f in ("stdin", "stdout", "stderr", "tty", "x")] == [
        True,
        True,
        False,
        True,
        False,
    ]


def test_identity_comes_from_the_certificate_subject() -> None:
    peercert = {
        "subject": (
            (("organizationName", "system:masters"),),
            (("commonName", "kube-apiserver-kubelet-client"),),
        )
    }
    who = auth.identity(peercert)
    assert who == auth.Identity("kube-apiserver-kubelet-client", ("system:masters",))
    assert auth.allowed(who)
    assert auth.identity(None) is None
    other = auth.identity({"subject": ((("commonName", "someone"),),)})
    assert other is not None and not auth.allowed(other)


def test_the_size_a_terminal_exec_starts_with_is_the_last_one_sent():
    messages = [
        b"\x00typed ahead",  # stdin, kept for the session
        b'\x04{"Width":80,"Height":24}',
        b"\x04not json",
        b'\x04{"Width":111,"Height":33}',
    ]
    assert exec_stream.last_size(messages) == TerminalSize(width=111, height=33)
    assert exec_stream.last_size(messages[:1]) is None
    assert exec_stream.last_size([b"\x04{}"]) is None
