"""What the OpenAPI document says that the handlers' signatures cannot: auth, the version header, the UI.

Authentication is a middleware and the version check a ``before_request`` hook, so neither shows up in a
handler's signature; the responses and the header parameter they add are declared here, once, and the
handlers merge them in. Swagger UI's assets come from the ``swagger-ui-py`` package and are served by the
broker itself, so the page works on an air-gapped control plane.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

from keb_adapters.http.wire import OsbError

VERSION_HEADER = "X-Broker-API-Version"

# The paths under which the broker serves Swagger UI's own files (JS, CSS, icons).
SWAGGER_ASSETS_PATH = "/schema/assets"

PROTECTED_RESPONSES: dict[int, ResponseSpec] = {
    401: ResponseSpec(
        data_container=OsbError,
        description="No bearer token, or one that is invalid or expired (`WWW-Authenticate: Bearer`)",
    ),
    403: ResponseSpec(
        data_container=OsbError, description="The token lacks the scope or group the route needs"
    ),
}


def api_version_parameter() -> HeaderParameter:
    """The ``X-Broker-API-Version`` header every OSB route requires (412 without it)."""
    return HeaderParameter(
        annotation=str,
        name=VERSION_HEADER,
        required=True,
        default="2.14",
        description="The OSB API version the platform speaks; this broker speaks 2.x (2.14 and later for "
        "fetching instances and bindings).",
    )


def swagger_assets_directory() -> Path:
    """The directory of Swagger UI's distribution files inside the installed ``swagger-ui-py`` package."""
    return Path(str(resources.files("swagger_ui").joinpath("static")))
