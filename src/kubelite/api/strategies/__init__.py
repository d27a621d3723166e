"""One `Strategy` subclass per kind (Kubernetes' `pkg/registry/<group>/<kind>/strategy.go`)."""
