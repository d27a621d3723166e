"""containerd's default seccomp profile, and the node's Localhost profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci import seccomp
from kubelite.runtime.oci.spec import DEFAULT_CAPABILITIES


def allowed(profile: dict) -> set[str]:
    """The syscalls allowed whatever their arguments."""
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == seccomp.ACT_ALLOW and "args" not in rule
        for name in rule["names"]
    }


def profile(
    caps: list[str] = DEFAULT_CAPABILITIES, machine: str = "x86_64", kernel: tuple = (6, 1)
) -> dict:
    return seccomp.default_profile(caps, machine=machine, kernel=kernel)


def test_everything_not_allowed_fails_with_eperm_on_every_x86_abi() -> None:
    made = profile()
    assert made["defaultAction"] == "SCMP_ACT_ERRNO" and "defaultErrnoRet" not in made
    assert made["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


@pytest.mark.parametrize(
    "name",
    ["read", "openat2", "close_range", "pkey_alloc", "rseq", "statx", "arch_prctl", "ptrace"],
)
def test_ordinary_syscalls_are_allowed(name: str) -> None:
    assert name in allowed(profile())


@pytest.mark.parametrize(
    "name",
    ["mount", "unshare", "setns", "reboot", "kexec_load", "bpf", "keyctl", "io_uring_setup",
     "open_by_handle_at", "init_module", "acct", "settimeofday", "userfaultfd"],
)  # fmt: skip
def test_dangerous_syscalls_are_not_allowed_with_the_default_capabilities(name: str) -> None:
    assert name not in allowed(profile())


def test_a_capability_in_the_bounding_set_allows_its_syscalls() -> None:
    made = allowed(profile([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_TIME"]))
    assert {"mount", "unshare", "setns", "clone3", "settimeofday", "clock_settime"} <= made
    # CAP_SYS_CHROOT is a default capability: chroot is allowed; without it, not.
    assert "chroot" in allowed(profile())
    assert "chroot" not in allowed(profile(["CAP_CHOWN"]))


def test_without_sys_admin_clone_may_not_make_namespaces_and_clone3_is_enosys() -> None:
    rules = profile()["syscalls"]
    clone = next(r for r in rules if r["names"] == ["clone"])
    assert clone["args"] == [
        {"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    clone3 = next(r for r in rules if r["names"] == ["clone3"])
    assert clone3 == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    with_admin = profile([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])["syscalls"]
    assert not any(r.get("action") == "SCMP_ACT_ERRNO" for r in with_admin)


def test_s390x_passes_clone_flags_in_the_second_argument() -> None:
    rules = profile(machine="s390x")["syscalls"]
    clone = next(r for r in rules if r["names"] == ["clone"])
    assert clone["args"][0]["index"] == 1
    assert "s390_runtime_instr" in allowed({"syscalls": rules})


def test_personality_is_allowed_for_the_known_personas_only() -> None:
    values = [r["args"][0]["value"] for r in profile()["syscalls"] if r["names"] == ["personality"]]
    assert values == [0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_ptrace_needs_a_4_8_kernel_or_cap_sys_ptrace() -> None:
    assert "ptrace" not in allowed(profile(kernel=(4, 4)))
    assert "ptrace" in allowed(profile([*DEFAULT_CAPABILITIES, "CAP_SYS_PTRACE"], kernel=(4, 4)))


def test_kernel_version_of_a_release() -> None:
    assert seccomp.kernel_version("6.18.44-fc-v1272") == (6, 18)
    assert seccomp.kernel_version("4.8.0") == (4, 8)
    assert seccomp.kernel_version("weird") == (0, 0)


def test_a_localhost_profile_is_read_as_the_specs_fields(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_LOG",
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}],  # Docker's, not the spec's
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    assert seccomp.localhost_profile(str(path)) == {
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
    }


def test_a_missing_localhost_profile_fails_with_containerds_words(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    with pytest.raises(ContainerError) as failure:
        seccomp.localhost_profile(str(path))
    assert str(failure.value) == (
        f'cannot load seccomp profile "{path}": open {path}: no such file or directory'
    )
    assert failure.value.reason == "CreateContainerError"


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_profile_that_is_no_json_object_fails(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ContainerError, match=f'decoding seccomp profile failed "{path}"'):
        seccomp.localhost_profile(str(path))
