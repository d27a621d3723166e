"""In-place pod resize on the node: allocations, their checkpoint, and the fit of a resize."""
