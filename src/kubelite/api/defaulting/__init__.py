"""Defaulting: the values Kubernetes fills in for fields a client left out.

Kubernetes sets defaults while decoding a request (`pkg/apis/<group>/<version>/defaults.go`) and
some admission plugins add more for pods. Clients see the result in every read, and kubectl's
`apply` and `diff` depend on it being the same as Kubernetes', so each kind's defaults live in
one module here, named after the kind, and are called from its strategy.
"""
