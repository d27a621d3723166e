"""Seccomp profiles for containers: containerd's default profile (RuntimeDefault), and the
node's own JSON profiles (Localhost).

`default_profile` is containerd's `DefaultProfile` (contrib/seccomp/seccomp_default.go), written
here as data: an allow-list of syscalls with `SCMP_ACT_ERRNO` (EPERM) for everything else, the
`personality` values programs use to ask for 32-bit or no-ASLR behaviour, the syscalls of the
machine's architecture, and the syscalls a capability makes safe, which are allowed only when
the container's bounding set holds that capability (`mount` and `unshare` with CAP_SYS_ADMIN,
`chroot` with CAP_SYS_CHROOT...). Without CAP_SYS_ADMIN, `clone` is allowed only when it asks
for no new namespace, and `clone3` (whose flags seccomp cannot read) fails with ENOSYS so that
libc falls back to `clone`.

The list follows containerd 2.0, the runtime Kubernetes 1.33 is tested with: the profile of
containerd 1.7 with the memory protection key calls (`pkey_*`, containerd#7163) and without
io_uring (`io_uring_*`, removed by containerd#9320 because it bypasses the filter).

A Localhost profile is a file under the kubelet's seccomp root; containerd reads it into the
spec's `linux.seccomp` as it is (`seccomp.WithProfile`), and so does `localhost_profile`, with
containerd's errors when it is missing or not JSON.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from typing import Any

from kubelite.runtime.errors import ContainerError

ACT_ALLOW = "SCMP_ACT_ALLOW"
ACT_ERRNO = "SCMP_ACT_ERRNO"
ENOSYS = 38

# Every syscall the default profile allows whatever the container's capabilities.
ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
    "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
    "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock",
    "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
    "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
    "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
    "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat",
    "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
    "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
    "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
    "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
)  # fmt: skip

# personality(2) is allowed only with these arguments: PER_LINUX, PER_LINUX32,
# UNAME26 | PER_LINUX, UNAME26 | PER_LINUX32, and 0xffffffff (a query).
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# ptrace is safe for everyone from Linux 4.8, where it can no longer be used to get around
# seccomp; before that only CAP_SYS_PTRACE allows it.
PTRACE_SINCE = (4, 8)

# The architectures a profile covers (libseccomp's names) and the extra syscalls allowed on each,
# by the machine's architecture (Go's GOARCH in containerd).
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"),
    "s390x": ("SCMP_ARCH_S390", "SCMP_ARCH_S390X"),
    "riscv64": ("SCMP_ARCH_RISCV64",),
}
ARCHITECTURE_SYSCALLS: dict[str, tuple[str, ...]] = {
    "x86_64": ("arch_prctl", "modify_ldt"),
    "aarch64": (
        "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
        "cacheflush", "set_tls",
    ),
    "ppc64le": ("sync_file_range2", "swapcontext"),
    "s390x": ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
    "riscv64": ("riscv_flush_icache",),
}  # fmt: skip

# The syscalls a capability in the bounding set allows, in containerd's order.
BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": (
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
        "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
        "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": (
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
        "ptrace",
    ),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}  # fmt: skip

# clone(2) flags that make a namespace (<linux/sched.h>): without CAP_SYS_ADMIN a clone asking
# for any of them is refused. s390 passes the flags in the second argument.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
    | CLONE_NEWCGROUP
)  # fmt: skip

# The fields of the OCI runtime spec's `linux.seccomp`: what containerd keeps of a Localhost
# profile (it decodes the file into that struct, so anything else is dropped).
SPEC_FIELDS = (
    "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
    "listenerMetadata", "syscalls",
)  # fmt: skip


def _allow(names: Sequence[str]) -> dict[str, Any]:
    return {"names": list(names), "action": ACT_ALLOW}


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a kernel release such as "6.1.0-18-amd64"; (0, 0) if unreadable."""
    parts = (release or platform.release()).split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def default_profile(
    bounding: Sequence[str], *, machine: str | None = None, kernel: tuple[int, int] | None = None
) -> dict[str, Any]:
    """containerd's RuntimeDefault profile for a container with the `bounding` capability set,
    as the spec's `linux.seccomp`."""
    machine = machine or platform.machine()
    kernel = kernel or kernel_version()
    syscalls = [_allow(ALLOWED)]
    syscalls += [
        {**_allow(["personality"]), "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]}
        for value in PERSONALITIES
    ]
    if kernel >= PTRACE_SINCE:
        syscalls.append(_allow(["ptrace"]))
    if machine in ARCHITECTURE_SYSCALLS:
        syscalls.append(_allow(ARCHITECTURE_SYSCALLS[machine]))
    syscalls += [_allow(BY_CAPABILITY[cap]) for cap in bounding if cap in BY_CAPABILITY]
    if "CAP_SYS_ADMIN" not in bounding:
        flags_arg = 1 if machine == "s390x" else 0
        syscalls.append(
            {
                **_allow(["clone"]),
                "args": [
                    {
                        "index": flags_arg,
                        "value": NAMESPACE_FLAGS,
                        "valueTwo": 0,
                        "op": "SCMP_CMP_MASKED_EQ",
                    }
                ],
            }
        )
        syscalls.append({"names": ["clone3"], "action": ACT_ERRNO, "errnoRet": ENOSYS})
    return {
        "defaultAction": ACT_ERRNO,
        "architectures": list(ARCHITECTURES.get(machine, ())),
        "syscalls": syscalls,
    }


def _go_error(error: OSError) -> str:
    """An OSError as Go's os package words it: `open /path: no such file or directory`."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"open {error.filename}: {reason[:1].lower()}{reason[1:]}"


def localhost_profile(path: str) -> dict[str, Any]:
    """The profile in the node's file `path` (containerd's seccomp.WithProfile). A file that
    cannot be read or decoded fails the container with containerd's words."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ContainerError(
            f'cannot load seccomp profile "{path}": {_go_error(e)}', reason="CreateContainerError"
        ) from e
    try:
        profile = json.loads(data)
        if not isinstance(profile, dict):
            raise ValueError(f"a JSON {type(profile).__name__}, not an object")
    except ValueError as e:
        raise ContainerError(
            f'decoding seccomp profile failed "{path}": {e}', reason="CreateContainerError"
        ) from e
    return {key: profile[key] for key in SPEC_FIELDS if key in profile}
