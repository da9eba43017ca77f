"""``keb``: the broker's command line.

keb serve             run the broker (the embedded defaults, or what APP_* variables configure)
keb migrate           bring the database schema up to date and exit
keb cleanup-bindings  remove expired bindings (and their cluster identities), print what was removed
keb landscape         run only the local landscape (Kubernetes API double + KIM) and print its kubeconfigs
keb token [--scope S] print a bearer token of the embedded issuer (APP_AUTH_MODE=local)
keb config docs       print docs/configuration.md: every variable keb reads, and what it does with KEB's
keb client ...        drive any broker over HTTP (keb client --help)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import uvicorn

from keb_adapters.auth.local import LocalIssuer
from keb_adapters.sql.database import create_engine, migrate
from keb_app.app import create_app
from keb_app.bootstrap import build_services
from keb_app.client_cli import add_client_parser, run_client
from keb_app.landscape.__main__ import main as landscape_main
from keb_app.logs import configure_logging
from keb_app.settings import Settings
from keb_app.variables import render_document
from keb_domain.auth import ALL_SCOPES
from keb_domain.errors import ConfigurationError

log = logging.getLogger("keb")


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except ConfigurationError as error:
        print(f"keb: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(settings: Settings) -> None:
    services = build_services(settings)
    log.info(
        "keb broker on http://%s:%d, database %s, default platform region %s",
        settings.host,
        settings.port,
        settings.database_kind,
        settings.broker.default_platform_region,
    )
    if settings.cluster_mode == "local":
        log.warning(
            "no real cluster is created: KCP, Gardener and the runtimes are the local landscape, an "
            "in-process Kubernetes API double whose KIM simulation turns runtimes Ready after %.1fs; "
            "its kubeconfigs are in %s",
            settings.local_ready_after,
            settings.data_dir / "landscape" / "kubeconfigs",
        )
    else:
        log.info("KCP: %s", settings.kcp_kubeconfig or "in-cluster configuration")
    if settings.auth.mode == "none":
        log.warning(
            "APP_AUTH_MODE=none: NO ENDPOINT CHECKS TOKENS. Anyone who reaches this broker can provision, "
            "bind and delete runtimes. Only run it like this behind a gateway that checks tokens."
        )
    elif settings.auth.mode == "local":
        log.info(
            "tokens: the embedded issuer %s; get one with `keb token` or POST /oauth2/token "
            "with the client in %s",
            settings.auth.issuer,
            settings.data_dir / "local-client.json",
        )
    else:
        log.info("tokens: JWTs of %s, keys from %s", settings.auth.issuer, settings.auth.jwks_url)
    app = create_app(services)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


async def _migrate(settings: Settings) -> None:
    if settings.database_kind == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url, tls=settings.database_tls)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _cleanup_bindings(settings: Settings) -> int:
    """Remove what is expired now, once each; exit status 1 if some binding could not be removed."""
    services = build_services(settings, run_engine=False)
    await services.start()
    try:
        report = await services.clean_bindings()
    finally:
        await services.stop()
    for instance_id, binding_id in report.removed:
        print(f"removed binding {binding_id} of instance {instance_id}")
    for instance_id, binding_id, why in report.failed:
        print(f"could not remove binding {binding_id} of instance {instance_id}: {why}")
    failed = len(report.failed)
    print(f"{failed} binding(s) could not be removed" if failed else "no expired bindings left")
    return 1 if failed else 0


def token(settings: Settings, scopes: list[str]) -> int:
    if settings.auth.mode != "local":
        print(
            f"keb token: the embedded issuer needs APP_AUTH_MODE=local (now {settings.auth.mode})",
            file=sys.stderr,
        )
        return 2
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        print(
            f"keb token: unknown scope(s) {', '.join(unknown)}; the scopes are {', '.join(ALL_SCOPES)}",
            file=sys.stderr,
        )
        return 2
    issuer = LocalIssuer(settings.data_dir, settings.auth.issuer, settings.auth.audience)
    print(issuer.mint(tuple(scopes) if scopes else ALL_SCOPES).reveal())
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="keb", description="Kyma Environment Broker")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the broker")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser("cleanup-bindings", help="remove expired bindings and print what was removed")
    token_parser = commands.add_parser("token", help="print a bearer token of the embedded issuer")
    token_parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help=f"a scope to ask for, repeatable (default: {' '.join(ALL_SCOPES)})",
    )
    config_parser = commands.add_parser("config", help="configuration: `keb config docs`")
    config_commands = config_parser.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("docs", help="print the configuration document (docs/configuration.md)")
    commands.add_parser(
        "landscape", help="run the local landscape on its own; options: keb landscape --help", add_help=False
    )
    add_client_parser(commands)
    args, rest = parser.parse_known_args(argv)
    if args.command == "client":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        raise SystemExit(run_client(args))  # reads no APP_* settings: it talks to a broker over HTTP
    if args.command == "landscape":
        raise SystemExit(landscape_main(rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "config":
        sys.stdout.write(render_document())
        return
    settings = _settings()
    try:
        _run(args, settings)
    except ConfigurationError as error:
        # Also what only building the services finds out (a missing key, an unreadable kubeconfig).
        print(f"keb: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(args: argparse.Namespace, settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
        log.info("database schema is up to date")
    elif args.command == "token":
        raise SystemExit(token(settings, args.scope))
    elif args.command == "cleanup-bindings":
        raise SystemExit(asyncio.run(_cleanup_bindings(settings)))
