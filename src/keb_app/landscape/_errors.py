"""Kubernetes API errors as the double answers them: ``metav1.Status`` bodies with real reasons and codes.

Messages follow kube-apiserver's wording (``k8s.io/apimachinery/pkg/api/errors``) so that adapters which
match on ``reason`` or show ``message`` behave as they would against a real cluster.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]


class ApiError(Exception):
    """A failed Kubernetes API call, rendered as a ``metav1.Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: JsonObject | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> JsonObject:
        """The JSON body kube-apiserver sends for this error."""
        body: JsonObject = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(name: str, group: str, kind: str) -> JsonObject:
    details: JsonObject = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def qualified(plural: str, group: str) -> str:
    """``plural.group`` as Kubernetes prints a group resource (``secrets``, ``runtimes.infra...``)."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    """The named object does not exist."""
    return ApiError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, group, plural)
    )


def unknown_resource() -> ApiError:
    """The path names no resource this server serves."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """A create named an object that exists already."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, cause: str) -> ApiError:
    """An optimistic-concurrency precondition failed."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {cause}',
        _details(name, group, plural),
    )


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


class FieldError:
    """One ``field.Error`` of Kubernetes validation (``spec.x: Invalid value: 3: detail``)."""

    def __init__(self, field: str, error_type: str, value: Any = None, detail: str = "") -> None:
        self.field = field
        self.error_type = error_type
        self.value = value
        self.detail = detail

    @property
    def reason(self) -> str:
        return {
            "Required value": "FieldValueRequired",
            "Invalid value": "FieldValueInvalid",
            "Forbidden": "FieldValueForbidden",
            "Unsupported value": "FieldValueNotSupported",
            "Too long": "FieldValueTooLong",
        }.get(self.error_type, "FieldValueInvalid")

    def _value_text(self) -> str:
        if isinstance(self.value, str):
            return f'"{self.value}"'
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)

    def body(self) -> str:
        """The message without the field path (what a Status ``cause`` carries)."""
        if self.error_type in ("Required value", "Forbidden", "Too long"):
            return self.error_type + (f": {self.detail}" if self.detail else "")
        text = f"{self.error_type}: {self._value_text()}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """Validation failed (``apierrors.NewInvalid``): 422 with one cause per field error."""
    aggregate = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details = _details(name, group, kind)
    details["causes"] = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(422, "Invalid", f'{qualified(kind, group)} "{name}" is invalid: {aggregate}', details)


def bad_request(message: str) -> ApiError:
    """The request cannot be understood (malformed body, mismatching namespace...)."""
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    """No credentials, or credentials this cluster does not accept."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    """The authenticated user may not do this (RBAC or namespace lifecycle)."""
    subject = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, group, plural))


def method_not_allowed() -> ApiError:
    """The resource exists but does not support this verb."""
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media_type(accepted: list[str]) -> ApiError:
    """The request body has a content type this endpoint does not read."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )
