"""Hollow nodes: simulated nodes for scale tests, as kubemark's hollow nodes and KWOK provide.

A hollow node is a Node object kept alive without a machine: it registers as a kubelet would,
renews its Lease and reports its status at a real kubelet's rate, and moves the pods bound to it
to Running with the status a kubelet would write, without pulling an image or starting a
process. One `kubelite hollow-nodes` process simulates thousands of them over a few HTTP
connections to the API server, so the scheduler and controllers can be measured against a
5,000-node cluster on one small machine.

Modules: `nodes` and `pods` build the objects (pure), `timing` decides when each node
heartbeats, `heartbeats` registers nodes and keeps them alive, `lifecycle` runs their pods,
`finishing` ends the pods a test asks to exit (`hollow.kubelite.io/exit-code`, for Jobs), and
`runner` puts it together for the command (`kubelite.cli.cluster.hollow_nodes`).
"""
