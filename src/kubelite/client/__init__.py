"""kubelite's client of the Kubernetes API: kubeconfig loading, the async API client, errors.

Everything outside the API server reaches the cluster through this package (ARCHITECTURE.md,
rule 1). Informers and work queues will build on `APIClient.list` and `APIClient.watch`.
"""

from kubelite.api.resources import Resource
from kubelite.client.api import (
    JSON,
    TABLE,
    APIClient,
    PatchType,
    WatchEvent,
)
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIBadRequestError,
    APIClientError,
    APIConflictError,
    APIConnectionError,
    APIError,
    APIForbiddenError,
    APIGoneError,
    APIInvalidError,
    APINotFoundError,
    APIServerError,
    APITooManyRequestsError,
    APIUnauthorizedError,
    UnknownResourceError,
)
from kubelite.client.kubeconfig import ClientConfig, ConfigError, load_config

__all__ = [
    "JSON",
    "TABLE",
    "APIAlreadyExistsError",
    "APIBadRequestError",
    "APIClient",
    "APIClientError",
    "APIConflictError",
    "APIConnectionError",
    "APIError",
    "APIForbiddenError",
    "APIGoneError",
    "APIInvalidError",
    "APINotFoundError",
    "APIServerError",
    "APITooManyRequestsError",
    "APIUnauthorizedError",
    "ClientConfig",
    "ConfigError",
    "PatchType",
    "Resource",
    "UnknownResourceError",
    "WatchEvent",
    "load_config",
]
