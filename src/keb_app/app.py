"""The Litestar application: routes, dependency injection, error handling, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect

from keb_adapters.http.bindings import BindingController, BindingCreation
from keb_adapters.http.errors import EXCEPTION_HANDLERS
from keb_adapters.http.osb import (
    CatalogController,
    ExpirationController,
    InstanceController,
    check_api_version,
)
from keb_adapters.http.wire import Health
from keb_app.bootstrap import Services
from keb_domain.usecases.bindings import BindingUseCases
from keb_domain.usecases.config import BrokerConfig
from keb_domain.usecases.instances import InstanceUseCases


@get("/healthz", tags=["Operations"], summary="Liveness and readiness")
async def healthz() -> Health:
    return Health(status="ok")


@get("/", include_in_schema=False)
async def index() -> Redirect:
    """KEB serves its Swagger UI at the root; so do we."""
    return Redirect("/schema/swagger")


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

    def provide_instances() -> InstanceUseCases:
        return services.instances

    def provide_config() -> BrokerConfig:
        return services.settings.broker

    def provide_bindings() -> BindingUseCases:
        return services.bindings

    def provide_creation() -> BindingCreation:
        return services.binding_creation

    osb = Router(
        path="/",
        route_handlers=[CatalogController, InstanceController, BindingController],
        before_request=check_api_version,
    )
    dependencies: dict[str, Any] = {
        "instances": Provide(provide_instances, sync_to_thread=False),
        "config": Provide(provide_config, sync_to_thread=False),
        "bindings": Provide(provide_bindings, sync_to_thread=False),
        "creation": Provide(provide_creation, sync_to_thread=False),
    }
    return Litestar(
        route_handlers=[osb, ExpirationController, healthz, index],
        dependencies=dependencies,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Kyma Environment Broker",
            version="2.14",
            description="An Open Service Broker for SAP BTP, Kyma runtimes.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
        ),
        logging_config=None,  # keb_app.logs configures logging once for the whole process
        debug=False,
    )
