"""The node's service proxy: Services' virtual IPs in nftables, as kube-proxy's nftables mode.

`model` reads Services and EndpointSlices (plain Kubernetes dicts) into service ports and their
endpoints, and sorts endpoints as kube-proxy's CategorizeEndpoints does; `rules` writes the
nftables chains, sets and map elements of one service port; `transaction` turns the change
between two states into one `nft -f` file; `nft` and `conntrack` run the tools; `proxier` keeps
the state, syncs (a full sync at start, then only the changed Services) and retries; `runner`
feeds it from informers.
"""
