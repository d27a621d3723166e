"""Conversions between two versions of a kind that share one storage (Kubernetes' conversion.go)."""
