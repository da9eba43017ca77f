"""The one error hierarchy of the broker.

Use cases raise these; the HTTP adapter maps each class to a status code and an OSB error body in one
table (``keb_adapters.http.errors``). The domain never knows status codes. Messages are shown to API
clients, so they must never contain credentials.
"""

from __future__ import annotations


class KebError(Exception):
    """Base class: a failure the broker understands and can explain to its caller."""

    #: OSB error key (``AsyncRequired``, ``ConcurrencyError``...), when the spec defines one.
    error_key: str | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


# --- the request is wrong --------------------------------------------------------------------------


class InvalidRequestError(KebError):
    """The request is malformed or names something the broker does not offer (OSB 400)."""


class InvalidParametersError(InvalidRequestError):
    """Provisioning or update parameters fail the plan's schema or a semantic rule."""


class AsyncRequiredError(KebError):
    """The request needs asynchronous processing but the client did not accept it (422)."""

    error_key = "AsyncRequired"

    def __init__(
        self,
        description: str = "This service plan requires client support for asynchronous service operations.",
    ) -> None:
        super().__init__(description)


class UnprocessableError(KebError):
    """The request is well-formed but the instance's state does not allow it (422)."""


class ConcurrencyError(UnprocessableError):
    """Another operation on the same resource is in progress (422 ``ConcurrencyError``)."""

    error_key = "ConcurrencyError"


# --- what the request names does not fit what exists -----------------------------------------------


class PlatformRegionNotServedError(KebError):
    """The path names a platform region this broker does not serve, in any spelling (404)."""


class InstanceNotFoundError(KebError):
    """No such instance (404 on reads and last_operation)."""


class InstanceGoneError(KebError):
    """The instance to delete does not exist (410 on deprovision)."""


class InstanceConflictError(KebError):
    """The instance exists with different attributes (409)."""


class OperationNotFoundError(KebError):
    """No operation (and no archived instance) answers a last_operation poll (404)."""


class BindingNotFoundError(KebError):
    """No such binding, or it is expired or still being created (404 on GET)."""


class BindingGoneError(KebError):
    """The binding to delete does not exist (410 on unbind)."""


class BindingConflictError(KebError):
    """The binding exists with different parameters (409)."""


class BindingNotSupportedError(UnprocessableError):
    """The instance's plan is not bindable (422 ``BindingNotSupported``)."""

    error_key = "BindingNotSupported"


class BindingTimeoutError(KebError):
    """Creating the credentials took longer than the synchronous limit (503); it goes on in the background."""


class CredentialsUnreadableError(KebError):
    """Stored credentials cannot be decrypted: the data was altered or the key is not the one used."""


class UnauthenticatedError(KebError):
    """No credentials, or ones that are not valid (401)."""


class ForbiddenError(KebError):
    """Valid credentials without the scope or group the call needs (403)."""


# --- infrastructure -----------------------------------------------------------------------------------


class StorageConflictError(KebError):
    """A version-checked write lost a race; the caller may re-read and retry."""


class StorageUnavailableError(KebError):
    """The database cannot be reached or is locked; nothing was changed and the caller may retry (503)."""


class ClusterError(KebError):
    """A call to a Kubernetes API (KCP, Gardener, a runtime cluster) failed."""


class ClusterNotFoundError(ClusterError):
    """The object does not exist (404)."""


class ClusterAlreadyExistsError(ClusterError):
    """An object with that name already exists (409 ``AlreadyExists`` on create)."""


class ClusterConflictError(ClusterError):
    """A write carried a stale ``resourceVersion`` (409 ``Conflict``)."""


class ClusterInvalidError(ClusterError):
    """The API server rejected the object as invalid (422)."""


class ClusterForbiddenError(ClusterError):
    """The API server refused the caller's credentials (401 or 403)."""


class ClusterUnavailableError(ClusterError):
    """A 5xx, timeout or connection failure: temporary, the operation engine retries with backoff."""


class ConfigurationError(Exception):
    """The broker's configuration is invalid; startup stops with a message naming the key."""
