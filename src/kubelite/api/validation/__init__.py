"""Semantic rules of the API (Kubernetes' `pkg/apis/<group>/validation`), written once."""
