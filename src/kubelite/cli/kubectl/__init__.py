"""The kubectl-like commands: clients of an API server that print what kubectl prints.

Each command module (`get`, `describe`, `apply`, `create`, `delete`, `logs`, `exec_command`,
`events`, `resources`, `version`) has `add_arguments(parser)` and `run(args)`; `kubectl_args`
holds the flags and the session they share, `manifests` reads `-f` files, and
`kubelite.cli.output` lays tables out.
"""
