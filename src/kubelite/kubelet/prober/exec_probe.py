"""The exec probe: run a command in the container; exit code 0 is healthy.

Kubernetes' execProber (pkg/probe/exec/exec.go) with the kubelet's command runner: the command's
stdout and stderr together, cut at 10 KiB, are the output an `Unhealthy` event shows. A command
that outlives `timeoutSeconds` is a failure whose output is the runtime's
`command "..." timed out` (the ExecProbeTimeout behaviour, on by default since Kubernetes 1.20).
Only static `$(VAR)` references to the container's own `env` are expanded
(ExpandContainerCommandOnlyStatic): an exec probe sees neither valueFrom nor the downward API.
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import expand_command
from kubelite.kubelet.prober.outcome import MAX_OUTPUT_BYTES, Outcome, ProbeError, ProbeResult
from kubelite.runtime.cri import RuntimeService


def probe_command(action: Obj, container: Obj) -> list[str]:
    """The probe's command with `$(VAR)` expanded from the container's literal env values."""
    env = [(e.get("name", ""), e.get("value") or "") for e in container.get("env") or ()]
    return expand_command(list(action.get("command") or ()), env)


async def exec_probe(
    runtime: RuntimeService, container_id: str, command: list[str], timeout: float
) -> Outcome:
    """One exec probe attempt."""
    try:
        result = await runtime.exec_sync(container_id, command, timeout)
    except TimeoutError:
        return Outcome(ProbeResult.FAILURE, f'command "{" ".join(command)}" timed out')
    except Exception as e:
        # The container is gone, the runtime failed...: the probe could not run (execProber's
        # "unknown" with an error).
        raise ProbeError(str(e) or type(e).__name__) from e
    output = (result.stdout + result.stderr)[:MAX_OUTPUT_BYTES].decode(errors="replace")
    if result.exit_code == 0:
        return Outcome(ProbeResult.SUCCESS, output)
    return Outcome(ProbeResult.FAILURE, output)
