"""The Litestar application: routes, dependency injection, error handling, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from keb_adapters.http.auth import BearerAuthMiddleware, LocalIssuerController
from keb_adapters.http.bindings import BindingController
from keb_adapters.http.boundary import BoundaryRequest, InputBoundaryMiddleware
from keb_adapters.http.docs import (
    SWAGGER_ASSETS_PATH,
    api_version_parameter,
    swagger_assets_directory,
)
from keb_adapters.http.errors import EXCEPTION_HANDLERS
from keb_adapters.http.inventory import InventoryController, KubeconfigController
from keb_adapters.http.osb import (
    CatalogController,
    ExpirationController,
    InstanceController,
    check_api_version,
)
from keb_adapters.http.wire import Health
from keb_app.bootstrap import Services


@get("/healthz", tags=["Operations"], summary="Liveness and readiness")
async def healthz() -> Health:
    return Health(status="ok")


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
        before_request=check_api_version,
        security=bearer,
        parameters={"x_broker_api_version": api_version_parameter()},
    )
    expiration = Router(path="/", route_handlers=[ExpirationController], security=bearer)
    inventory = Router(path="/", route_handlers=[InventoryController], security=bearer)
    dependencies: dict[str, Any] = {
        "instances": _provide(services.instances),
        "config": _provide(services.settings.broker),
        "binding_cases": _provide(services.bindings),
        "creation": _provide(services.binding_creation),
        "inventory": _provide(services.inventory),
        "kubeconfig_origins": _provide(services.settings.kubeconfig_allow_origins),
    }
    # Swagger UI's own files, served by the broker: the page must work without the internet.
    swagger_assets = create_static_files_router(
        path=SWAGGER_ASSETS_PATH,
        directories=[swagger_assets_directory()],
        include_in_schema=False,
        name="swagger-assets",
    )
    handlers: list[Any] = [osb, expiration, inventory, KubeconfigController, healthz, index, swagger_assets]
    if services.local_issuer is not None:
        handlers.append(LocalIssuerController)
        dependencies["issuer"] = _provide(services.local_issuer)
    return Litestar(
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
