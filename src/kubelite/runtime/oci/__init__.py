"""Containers on an OCI runtime: bundles (`spec`), the overlay root (`mounts`), runc (`runc`),
the conmon monitor (`conmon`), exit notification (`monitor`), exec (`exec`) and CRI logs (`logs`).
"""
