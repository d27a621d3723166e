"""projected volumes: several sources in one directory (`pkg/volume/projected/projected.go`).

Sources are read in order, a later file replacing an earlier one at the same path:
configMap and secret (as their own volumes, including `items` and `optional`), downwardAPI
items, and serviceAccountToken, which asks `token_source` for a token bound to the pod (the
kubelet's TokenRequest to `serviceaccounts/<name>/token`). Every source's failure is reported
together. Like secrets, the files live on a tmpfs.

This is also what serves the `kube-api-access-xxxxx` volume the ServiceAccount admission adds to
every pod: `token` (expirationSeconds 3607), `ca.crt` from the `kube-root-ca.crt` ConfigMap, and
`namespace` from the Downward API.
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import (
    config_map_not_found,
    get_config_map,
    get_secret,
    resolve,
    secret_not_found,
)
from kubelite.kubelet.security_context import fs_group, fs_user
from kubelite.kubelet.volumes import configmap, downward_api, secret
from kubelite.kubelet.volumes.atomic_writer import FileProjection
from kubelite.kubelet.volumes.configmap import PayloadSourceError, fetch_source, write_payload
from kubelite.kubelet.volumes.context import (
    DEFAULT_MODE,
    MountedVolume,
    VolumeContext,
    VolumeError,
    aggregate_message,
    file_mode,
)

PLUGIN_DIR = "kubernetes.io~projected"
# The default expirationSeconds (SetDefaults_ServiceAccountTokenProjection).
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600
# A token's mode when the pod has a common user or an fsGroup.
TOKEN_MODE = 0o600


async def _token(ctx: VolumeContext, projection: Obj, mode: int) -> dict[str, FileProjection]:
    """The token file: owned by the user all the pod's containers run as, and 0600 whenever the
    pod has such a user or an fsGroup (projected.go), so that only the pod can read it."""
    if ctx.token_source is None:
        raise PayloadSourceError("failed to fetch token: no token source configured")
    audience = projection.get("audience") or ""
    expiration = int(projection.get("expirationSeconds") or DEFAULT_TOKEN_EXPIRATION_SECONDS)
    try:
        token = await resolve(ctx.token_source(audience, expiration, ctx.pod))
    except Exception as e:
        raise PayloadSourceError(f"failed to fetch token: {e}") from e
    user, group = fs_user(ctx.pod), fs_group(ctx.pod)
    if user is not None or group is not None:
        mode = TOKEN_MODE
    return {projection.get("path", ""): FileProjection(str(token).encode(), mode, user)}


async def collect_data(ctx: VolumeContext, source: Obj) -> dict[str, FileProjection]:
    """projected.go collectData: the merged payload of every source, or every failure."""
    default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
    payload: dict[str, FileProjection] = {}
    errors: list[str] = []
    for projection in source.get("sources") or []:
        try:
            if projection.get("configMap") is not None:
                ref = projection["configMap"]
                optional = bool(ref.get("optional"))
                found = await fetch_source(
                    ctx, get_config_map, config_map_not_found, ref.get("name", ""), optional
                )
                items = ref.get("items")
                payload.update(configmap.make_payload(items, found, default_mode, optional))
            elif projection.get("secret") is not None:
                ref = projection["secret"]
                optional = bool(ref.get("optional"))
                found = await fetch_source(
                    ctx, get_secret, secret_not_found, ref.get("name", ""), optional
                )
                items = ref.get("items")
                payload.update(secret.make_payload(items, found, default_mode, optional))
            elif projection.get("downwardAPI") is not None:
                items = projection["downwardAPI"].get("items")
                payload.update(downward_api.collect_data(items, ctx.pod, ctx.node, default_mode))
            elif projection.get("serviceAccountToken") is not None:
                payload.update(await _token(ctx, projection["serviceAccountToken"], default_mode))
        except (PayloadSourceError, downward_api.CollectError) as e:
            errors.append(str(e))
    if errors:
        raise PayloadSourceError(aggregate_message(errors))
    return payload


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    try:
        payload = await collect_data(ctx, volume.get("projected") or {})
    except PayloadSourceError as e:
        raise VolumeError(name, str(e)) from e
    path = write_payload(ctx, name, PLUGIN_DIR, payload, memory=True)
    return MountedVolume(name, path, read_only=True)
