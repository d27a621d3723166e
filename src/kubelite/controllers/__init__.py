"""Controllers: one module per controller, each a client of the API (ARCHITECTURE.md)."""
