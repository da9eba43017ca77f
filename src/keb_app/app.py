"""The Litestar application: routes, dependency injection, error handling, OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from keb_adapters.http.auth import BearerAuthMiddleware, LocalIssuerController
from keb_adapters.http.bindings import BindingController
from keb_adapters.http.boundary import BoundaryRequest, InputBoundaryMiddleware
from keb_adapters.http.cached import Encoded, EncodedCatalogs
from keb_adapters.http.docs import (
    SWAGGER_ASSETS_PATH,
    api_version_parameter,
    swagger_assets_directory,
)
from keb_adapters.http.errors import EXCEPTION_HANDLERS
from keb_adapters.http.inventory import InventoryController, KubeconfigController
from keb_adapters.http.observe import RequestObservation
from keb_adapters.http.osb import (
    CatalogController,
    ExpirationController,
    InstanceController,
    osb_request_checks,
)
from keb_adapters.http.wire import Health
from keb_adapters.metrics import CONTENT_TYPE
from keb_app.bootstrap import Services

log = logging.getLogger("keb")


@get("/healthz", tags=["Operations"], summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    tags=["Operations"],
    summary="Readiness: database reachable at the newest schema, operation engine running",
    description="200 when every check passes, else 503; the body names each check and what fails.",
    responses={503: ResponseSpec(data_container=dict[str, Any], description="Not ready")},
)
async def readyz(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    checks = await services.readiness()
    failing = [f"{check.name}: {check.problem}" for check in checks if check.problem]
    body: dict[str, Any] = {
        "status": "not ready" if failing else "ready",
        "checks": {check.name: check.problem or "ok" for check in checks},
    }
    if failing:
        body["description"] = "not ready: " + "; ".join(failing)
    return Response(body, status_code=503 if failing else 200)


@get(
    "/metrics",
    tags=["Operations"],
    summary="Prometheus metrics",
    description="KEB's kcp_keb_v2_* metrics and the broker's keb_* ones (docs/metrics.md).",
    media_type=CONTENT_TYPE,
)
async def metrics(services: NamedDependency[Services]) -> Response[bytes]:
    now = services.clock.now()
    try:
        stats = await services.statistics.statistics(now)
    except Exception as error:  # the event metrics still help while the database is away
        log.warning(
            "metrics: the database could not be read (%s); state metrics left out", type(error).__name__
        )
        stats = None
    text = services.metrics.render(stats, now, services.pool_status())
    return Response(text, media_type=CONTENT_TYPE)


def create_status_app(services: Services) -> Litestar:
    """The status port's app (``APP_BROKER_STATUS_PORT``): health, readiness and metrics, no token."""
    return Litestar(
        route_handlers=[healthz, readyz, metrics],
        dependencies={"services": _provide(services)},
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


@get("/", include_in_schema=False)
async def index() -> Redirect:
    """KEB serves its Swagger UI at the root; so do we."""
    return Redirect("/schema/swagger")


BEARER = "bearer"


def _provide(value: object) -> Provide:
    """A dependency that is one already-built object of the composition root."""

    def dependency() -> Any:
        return value

    return Provide(dependency, sync_to_thread=False, use_cache=True)


def create_app(services: Services, *, manage_services: bool = True) -> Litestar:
    """The broker's HTTP application around already-built services.

    With ``manage_services`` the app starts and stops the services in its lifespan.
    """

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncGenerator[None, None]:
        if manage_services:
            await services.start()
        try:
            yield
        finally:
            if manage_services:
                await services.stop()

    bearer: list[SecurityRequirement] = [{BEARER: []}]
    osb = Router(
        path="/",
        route_handlers=[CatalogController, InstanceController, BindingController],
        before_request=osb_request_checks(services.settings.broker),
        security=bearer,
        parameters={"x_broker_api_version": api_version_parameter()},
    )
    expiration = Router(path="/", route_handlers=[ExpirationController], security=bearer)
    inventory = Router(path="/", route_handlers=[InventoryController], security=bearer)
    dependencies: dict[str, Any] = {
        "instances": _provide(services.instances),
        "config": _provide(services.settings.broker),
        "catalogs": _provide(EncodedCatalogs(services.settings.broker)),
        "binding_cases": _provide(services.binding_cases),
        "binding_requests": _provide(services.binding_requests),
        "inventory": _provide(services.inventory),
        "kubeconfig_origins": _provide(services.settings.kubeconfig_allow_origins),
        "services": _provide(services),
    }
    # Swagger UI's own files, served by the broker: the page must work without the internet.
    swagger_assets = create_static_files_router(
        path=SWAGGER_ASSETS_PATH,
        directories=[swagger_assets_directory()],
        include_in_schema=False,
        name="swagger-assets",
    )
    handlers: list[Any] = [
        osb,
        expiration,
        inventory,
        KubeconfigController,
        healthz,
        readyz,
        metrics,
        index,
        swagger_assets,
    ]
    if services.local_issuer is not None:
        handlers.append(LocalIssuerController)
        dependencies["issuer"] = _provide(services.local_issuer)
        dependencies["jwks"] = _provide(Encoded.of(services.local_issuer.jwks()))
    app = Litestar(
        route_handlers=handlers,
        dependencies=dependencies,
        middleware=[
            DefineMiddleware(BearerAuthMiddleware, verifier=services.verifier),
            InputBoundaryMiddleware,  # after authentication: strangers' bodies are not even read
        ],
        request_class=BoundaryRequest,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Kyma Environment Broker",
            version="2.14",
            description="An Open Service Broker for SAP BTP, Kyma runtimes. Protected routes need a bearer "
            "JWT (see the README: `keb token`, or POST /oauth2/token in the embedded mode).",
            path="/schema",
            render_plugins=[
                SwaggerRenderPlugin(
                    path="/swagger",
                    js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' href='{SWAGGER_ASSETS_PATH}/favicon-32x32.png'>",
                )
            ],
            components=Components(
                security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        logging_config=None,  # keb_app.logs configures logging once for the whole process
        debug=False,
    )
    # Around everything, unmatched routes and refused tokens included: correlation id, access line, metrics.
    app.asgi_handler = RequestObservation(app.asgi_handler, services.metrics.request)
    return app
