"""`kubelite describe`, by kind, as kubectl's `pkg/describe` is.

`command` is the command: it finds the objects, fetches what each description needs (events, a
node's pods and Lease, a workload's pods or ReplicaSets, a Service's EndpointSlices) and hands
them to the describer of the kind: `pods`, `nodes`, `workloads`, `network`, or `generic` for any
other kind. They print with `printing` (the writer and the blocks several kinds share) and end
with `events`' table.
"""

from kubelite.cli.kubectl.describe.command import add_arguments, run

__all__ = ["add_arguments", "run"]
