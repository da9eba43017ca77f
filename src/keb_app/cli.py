"""``keb``: the broker's command line.

keb serve             run the broker (the embedded defaults, or what APP_* variables configure)
keb migrate           bring the database schema up to date and exit
keb cleanup-bindings  remove expired bindings (and their cluster identities), print what was removed
keb landscape         run only the local landscape (Kubernetes API double + KIM) and print its kubeconfigs
keb job NAME [--dry-run]  run a landscape job once: trial-expiration, free-expiration, free-cleanup,
                      deprovision-retrigger; print what it did (or would do)
keb token [--scope S] print a bearer token of the embedded issuer (APP_AUTH_MODE=local)
keb config check      print the effective configuration (secrets masked), or every error
keb config docs       print docs/configuration.md: every variable keb reads, and what it does with KEB's
keb client ...        drive any broker over HTTP (keb client --help)
keb --version         print the version
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from keb_adapters.auth.local import KEY_FILE, LocalIssuer
from keb_adapters.metrics import enable_multiprocess, multiprocess_directory
from keb_app import server
from keb_app.bootstrap import build_services
from keb_app.client_cli import add_client_parser, run_client
from keb_app.landscape.__main__ import main as landscape_main
from keb_app.logs import configure_logging
from keb_app.settings import Settings
from keb_app.variables import render_document
from keb_domain.auth import ALL_SCOPES
from keb_domain.errors import ConfigurationError
from keb_domain.usecases.jobs import JobName

log = logging.getLogger("keb")


def _settings() -> Settings:
    """The settings, or exit 2 with one line per bad value (no traceback)."""
    try:
        return Settings.from_env(os.environ)
    except ConfigurationError as error:
        for line in str(error).splitlines():
            print(f"keb: configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def prepare_metrics(settings: Settings, processes: int) -> None:
    """Before any worker process starts: several share their metrics through files, in
    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else ``{APP_DATA_DIR}/metrics``; emptied here."""
    explicit = multiprocess_directory()
    if explicit is not None:
        enable_multiprocess(explicit)
    elif processes > 1:
        enable_multiprocess(settings.data_dir / "metrics")


ISSUER_FILE = "local-issuer.json"
# Settings that decide the embedded issuer's URL; when none is set, `keb token` takes the one serve used.
ISSUER_SETTINGS = ("APP_AUTH_ISSUER", "APP_BROKER_URL", "APP_BROKER_HOST", "APP_BROKER_PORT")


def record_issuer(data_dir: Path, issuer: str) -> None:
    """Remember the issuer ``keb serve`` signs with, so ``keb token`` can sign for the same one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / ISSUER_FILE).write_text(json.dumps({"issuer": issuer}) + "\n", encoding="utf-8")


def recorded_issuer(data_dir: Path) -> str | None:
    try:
        value = json.loads((data_dir / ISSUER_FILE).read_text(encoding="utf-8")).get("issuer")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def serve(settings: Settings) -> None:
    prepare_metrics(settings, processes=settings.serving.workers)
    log.info(
        "keb broker on http://%s:%d, database %s, default platform region %s",
        settings.host,
        settings.port,
        settings.database_kind,
        settings.broker.default_platform_region,
    )
    if settings.cluster_mode == "local":
        log.warning(
            "no real cluster is created: KCP, Gardener and the runtimes are the local landscape, a "
            "Kubernetes API double (in a process of its own) whose KIM simulation turns runtimes Ready "
            "after %.1fs; "
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
    if settings.auth.mode == "local":
        record_issuer(settings.data_dir, settings.auth.issuer)
    serving = settings.serving
    log.info(
        "%d HTTP worker process(es) (APP_HTTP_WORKERS); stop grace %.1fs (APP_SHUTDOWN_GRACE)",
        serving.workers,
        serving.shutdown_grace,
    )
    try:
        status = server.serve(settings)
    except ConfigurationError as error:
        log.error("%s", error)
        status = 2
    raise SystemExit(status)


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


async def _job(settings: Settings, name: str, dry_run: bool) -> int:
    """One run of a job; exit status 1 if an instance could not be handled.

    Jobs act on the database through the use cases (the broker's workers do the cluster work), so a job
    beside ``make run`` does not start a second local landscape on the same state.
    """
    services = build_services(settings, run_engine=False, start_landscape=False)
    await services.start()
    try:
        report = await services.run_job(JobName(name), dry_run=dry_run)
    finally:
        await services.stop()
    verb = "would act on" if dry_run else "acted on"
    acted = dict(report.acted)
    for instance_id in report.candidates:
        if dry_run:
            print(f"{name}: {verb} instance {instance_id}")
        elif instance_id in acted:
            print(f"{name}: instance {instance_id}: operation {acted[instance_id]}")
    for instance_id, why in report.failed:
        print(f"{name}: instance {instance_id} failed: {why}")
    count = len(report.candidates) if dry_run else len(report.acted)
    print(f"{name}: {verb} {count} instance(s){' (dry run: nothing changed)' if dry_run else ''}")
    return 1 if report.failed else 0


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
    if not (settings.data_dir / KEY_FILE).exists():
        print(
            f"keb token: no broker has used the data directory {settings.data_dir.resolve()} yet (it has no "
            f"{KEY_FILE}), so a token made here would be refused. Run `keb token` where `keb serve` runs, "
            "or set APP_DATA_DIR to the broker's data directory.",
            file=sys.stderr,
        )
        return 2
    issuer_url = settings.auth.issuer
    if not any(os.environ.get(name) for name in ISSUER_SETTINGS):
        issuer_url = recorded_issuer(settings.data_dir) or issuer_url
    issuer = LocalIssuer(settings.data_dir, issuer_url, settings.auth.audience)
    print(issuer.mint(tuple(scopes) if scopes else ALL_SCOPES).reveal())
    return 0


def _masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def describe(settings: Settings) -> list[tuple[str, str]]:
    """The effective configuration, secrets masked, as (setting, value) lines for `keb config check`."""
    broker, auth, policy = settings.broker, settings.auth, settings.binding_policy
    timeouts = broker.timeouts
    secret_key = (
        "(set, hidden)"
        if settings.database_secret_key is not None
        else f"(generated in {settings.data_dir})"
        if settings.database_kind == "sqlite"
        else "(missing)"
    )
    return [
        ("APP_BROKER_HOST", settings.host),
        ("APP_BROKER_PORT", str(settings.port)),
        ("APP_BROKER_STATUS_PORT", str(settings.status_port) if settings.status_port else "0 (off)"),
        ("APP_BROKER_URL", broker.broker_url),
        ("APP_DATA_DIR", str(settings.data_dir.resolve())),
        ("database", f"{settings.database_kind} {_masked_url(settings.database_url)}"),
        ("APP_DATABASE_SECRET_KEY", secret_key),
        ("APP_AUTH_MODE", auth.mode),
        ("APP_AUTH_ISSUER", auth.issuer or "-"),
        ("APP_AUTH_JWKS_URL", auth.jwks_url if auth.mode == "jwt" else "-"),
        ("APP_AUTH_AUDIENCE", auth.audience or "-"),
        ("clusters", settings.cluster_mode),
        ("APP_KCP_KUBECONFIG", str(settings.kcp_kubeconfig or "-")),
        ("APP_GARDENER_KUBECONFIG_PATH", str(settings.gardener_kubeconfig or "-")),
        ("APP_GARDENER_PROJECT", settings.gardener_project),
        ("APP_BROKER_DEFAULT_REQUEST_REGION", broker.default_platform_region),
        ("APP_BROKER_ENABLE_PLANS", ",".join(sorted(broker.catalog.enabled_plans))),
        ("APP_BROKER_BINDING_ENABLED", str(broker.catalog.bindings_enabled).lower()),
        ("APP_BROKER_BINDING_BINDABLE_PLANS", ",".join(sorted(broker.catalog.bindable_plans))),
        ("APP_BROKER_BINDING_EXPIRATION_SECONDS", str(policy.default_seconds)),
        ("APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS", str(policy.min_seconds)),
        ("APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS", str(policy.max_seconds)),
        ("APP_BROKER_BINDING_MAX_BINDINGS_COUNT", str(policy.max_bindings)),
        ("APP_OPERATION_WORKERS", str(settings.workers)),
        ("APP_OPERATION_POLL_INTERVAL", f"{broker.pacing.poll_interval:g}s"),
        ("APP_OPERATION_RECOVERY_DELAY", f"{settings.recovery_delay:g}s"),
        ("APP_BROKER_OPERATION_TIMEOUT", f"{timeouts.operation:g}s"),
        ("APP_HAP_RULE_FILE_PATH", os.environ.get("APP_HAP_RULE_FILE_PATH") or "(KEB's chart rules)"),
        ("APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME", settings.runtime_configuration_name),
        ("APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME", settings.seeds_cache_name),
        (
            "APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED",
            str(broker.runtime.dynamic_volume_size).lower() + f" ({settings.kcr_config_map_name})",
        ),
        ("APP_LOCAL_LANDSCAPE_POOL_SIZE", str(settings.local_pool_size)),
        ("APP_TRIAL_CLEANUP_EXPIRATION_PERIOD", f"{settings.job_periods.trial_expiration:g}s"),
        ("APP_FREE_EXPIRATION_PERIOD", f"{settings.job_periods.free_expiration:g}s"),
        ("APP_FREE_CLEANUP_EXPIRATION_PERIOD", f"{settings.job_periods.free_cleanup:g}s"),
        (
            "APP_JOBS_INTERVAL",
            f"{settings.jobs_interval:g}s" if settings.jobs_interval > 0 else "0 (only `keb job`)",
        ),
        ("APP_JOBS", ",".join(job.value for job in settings.scheduled_jobs)),
        ("APP_LOG_LEVEL", settings.log_level.lower()),
        ("APP_LOG_FORMAT", settings.log_format),
    ]


def config_check() -> int:
    """Print the effective configuration, or every error; exit 2 on errors."""
    try:
        settings = Settings.from_env(os.environ)
    except ConfigurationError as error:
        lines = str(error).splitlines()
        for line in lines:
            print(f"keb: configuration error: {line}", file=sys.stderr)
        print(f"{len(lines)} error(s); nothing was started", file=sys.stderr)
        return 2
    width = max(len(name) for name, _ in describe(settings))
    for name, value in describe(settings):
        print(f"{name.ljust(width)}  {value}")
    print("configuration is valid")
    return 0


SERVE_HELP = """\
Run the broker: the OSB API, the runtime inventory and the operation workers.

Without configuration it runs the embedded default: SQLite and keys in the data directory, the local
OAuth2 issuer and the local landscape (no real cluster is created).

settings it reads (environment variables; `keb config check` shows the effective values, `keb config
docs` documents them all):
  APP_BROKER_HOST, APP_BROKER_PORT (8080)   where the API listens
  APP_BROKER_STATUS_PORT (8071, 0 = off)     /healthz, /readyz and /metrics without a token
  APP_DATA_DIR (nearest .keb)                SQLite, keys, the local landscape
  APP_DATABASE_URL or APP_DATABASE_HOST/PORT/NAME/USER/PASSWORD/SSLMODE, APP_DATABASE_SECRET_KEY
  APP_AUTH_MODE (local|jwt|none), APP_AUTH_ISSUER, APP_AUTH_JWKS_URL, APP_AUTH_AUDIENCE
  APP_KCP_KUBECONFIG, APP_GARDENER_KUBECONFIG_PATH, APP_GARDENER_PROJECT   a real control plane
  APP_BROKER_*, APP_OPERATION_*, APP_STEP_TIMEOUTS_*                   KEB's broker settings
  APP_HTTP_WORKERS, APP_HTTP_*_TIMEOUT, APP_HTTP_MAX_CONNECTIONS, APP_SHUTDOWN_GRACE   serving
  APP_LOG_LEVEL (debug|info|warning|error), APP_LOG_FORMAT (text|json)
"""
MIGRATE_HELP = """\
Bring the database schema to the newest migration and exit (serve also does this at start).

settings it reads: APP_DATABASE_URL or APP_DATABASE_HOST/PORT/NAME/USER/PASSWORD/SSLMODE, APP_DATA_DIR
(the SQLite file of the embedded run), APP_LOG_LEVEL, APP_LOG_FORMAT.
"""
CLEANUP_HELP = """\
Remove expired bindings once, with their ServiceAccounts and roles in the runtime clusters, and print
what was removed; exit 1 if some could not be removed. (The broker also does this every
APP_BROKER_BINDING_CLEANUP_INTERVAL.)

settings it reads: the database settings as `keb migrate`, APP_DATABASE_SECRET_KEY, and the cluster
settings as `keb serve` (APP_KCP_KUBECONFIG, APP_GARDENER_KUBECONFIG_PATH, or the local
landscape).
"""
MINT_HELP = """\
Print a bearer token of the embedded issuer (APP_AUTH_MODE=local) for curl and the Swagger UI.
It signs with the key `keb serve` created in the data directory and for the issuer that serve recorded
there, so run it where serve runs or set APP_DATA_DIR.

settings it reads: APP_AUTH_MODE, APP_DATA_DIR, APP_AUTH_AUDIENCE; APP_AUTH_ISSUER, APP_BROKER_URL,
APP_BROKER_HOST, APP_BROKER_PORT (only to override the issuer serve recorded).
"""
JOB_HELP = """\
Run one landscape job once and exit (deploy/ runs each as a Kubernetes CronJob), printing every instance it
acts on; exit 1 if one could not be handled. Jobs only write operations to the database: the broker's
workers do the cluster work, so they start no local landscape and may run on several replicas at once.

  trial-expiration       expire trials older than APP_TRIAL_CLEANUP_EXPIRATION_PERIOD (336h)
  free-expiration        expire free instances older than APP_FREE_EXPIRATION_PERIOD (720h)
  free-cleanup           deprovision free instances older than APP_FREE_CLEANUP_EXPIRATION_PERIOD (2160h)
  deprovision-retrigger  deprovision again the instances whose deprovisioning failed

settings it reads: the database settings as `keb migrate`, APP_DATABASE_SECRET_KEY, the periods above,
APP_BROKER_ENABLE_PLANS, APP_LOG_LEVEL, APP_LOG_FORMAT.
"""
CONFIG_HELP = """\
keb config check: check the configuration from the environment without starting anything: print the
effective values (secrets masked) and exit 0, or print every error and exit 2.
keb config docs: print docs/configuration.md, every variable keb reads (generated from
src/keb_app/variables.py) and what keb does with each of KEB's.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keb",
        description="Kyma Environment Broker: an Open Service Broker for SAP BTP, Kyma runtimes.",
        epilog="`keb COMMAND --help` says what a command does and which settings it reads.",
    )
    parser.add_argument("--version", action="version", version=f"keb {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, text: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,
        )

    command("serve", "run the broker", SERVE_HELP)
    command("migrate", "apply database migrations and exit", MIGRATE_HELP)
    command("cleanup-bindings", "remove expired bindings and print what was removed", CLEANUP_HELP)
    job_parser = command("job", "run a landscape job once (for a Kubernetes CronJob)", JOB_HELP)
    job_parser.add_argument("name", choices=[job.value for job in JobName], help="the job")
    job_parser.add_argument("--dry-run", action="store_true", help="print what it would do; change nothing")
    token_parser = command("token", "print a bearer token of the embedded issuer", MINT_HELP)
    token_parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help=f"a scope to ask for, repeatable (default: {' '.join(ALL_SCOPES)})",
    )
    config_parser = command("config", "check the configuration, or print its documentation", CONFIG_HELP)
    config_parser.add_argument(
        "action",
        choices=["check", "docs"],
        help="check: print the effective configuration; docs: print docs/configuration.md",
    )
    commands.add_parser(
        "landscape", help="run the local landscape on its own; options: keb landscape --help", add_help=False
    )
    add_client_parser(commands)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("keb")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        raise SystemExit(2)
    if args.command == "client":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        raise SystemExit(run_client(args))  # reads no APP_* settings: it talks to a broker over HTTP
    if args.command == "landscape":
        raise SystemExit(landscape_main(rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "config":
        if args.action == "docs":
            sys.stdout.write(render_document())
            return
        raise SystemExit(config_check())
    settings = _settings()
    try:
        _run(args, settings)
    except ConfigurationError as error:
        # Also what only building the services finds out (a missing key, an unreadable kubeconfig).
        for line in str(error).splitlines():
            print(f"keb: configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _run(args: argparse.Namespace, settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        asyncio.run(server.migrate_database(settings))  # it says so in the log
    elif args.command == "token":
        raise SystemExit(token(settings, args.scope))
    elif args.command == "job":
        raise SystemExit(asyncio.run(_job(settings, args.name, args.dry_run)))
    elif args.command == "cleanup-bindings":
        raise SystemExit(asyncio.run(_cleanup_bindings(settings)))
