"""The commands that run the cluster on this machine, and tend the node it leaves behind.

Most are long-running processes: `server` (the API server, which supervises its children:
`control-plane`, `cluster-dns`, the local registry and the `agent`), `agent` (a node's kubelet,
joining a server with `join`), `scheduler` and `proxy` on their own, `hollow-nodes` for scale
tests, and `start`/`stop` (`daemon`) to run a server in the background. `reset` and `image` act on
the node's data directory once those are stopped or beside them. Each command module has
`add_arguments(parser)` and `run(args)`; `kubelite.cli.main` lists them.
"""
