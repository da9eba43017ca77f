"""``keb client``: drive any broker over HTTP, as a platform would, from a terminal or a script.

Settings: ``--url`` / ``KEB_URL`` (default http://127.0.0.1:8080); a bearer token from ``--token`` /
``KEB_TOKEN``, or client credentials ``--client-id`` / ``--client-secret`` (``KEB_CLIENT_ID`` /
``KEB_CLIENT_SECRET``) exchanged at ``--token-url`` (default ``{url}/oauth2/token``). Exit status: 0 when
everything asked for succeeded, 1 when the broker refused something or an operation failed, 2 for a usage
error. ``--output json`` prints one JSON document on stdout; progress and messages go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keb_adapters.http_client import BrokerClient, BrokerError, Operation, client_credentials_token
from keb_domain.auth import ALL_SCOPES
from keb_domain.secrets import Secret

DEFAULT_URL = "http://127.0.0.1:8080"
RUNTIME_FILTERS = ("account", "subaccount", "instance_id", "runtime_id", "region", "shoot", "plan", "state")

# Exit statuses.
OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


@attrs.frozen
class Output:
    """Where results go: a human table on stdout, or one JSON document for scripts."""

    json: bool
    out: Console
    err: Console

    def result(self, document: Any, text: Callable[[], None]) -> None:
        if self.json:
            self.out.print_json(json.dumps(document, default=str))
        else:
            text()


def _common_options(parser: argparse.ArgumentParser) -> None:
    """Options accepted before or after the command name (SUPPRESS keeps an earlier value)."""
    parser.add_argument("--url", default=argparse.SUPPRESS, help=f"broker base URL (KEB_URL; {DEFAULT_URL})")
    parser.add_argument("--token", default=argparse.SUPPRESS, help="bearer token (KEB_TOKEN)")
    parser.add_argument("--client-id", default=argparse.SUPPRESS, help="OAuth2 client id (KEB_CLIENT_ID)")
    parser.add_argument(
        "--client-secret", default=argparse.SUPPRESS, help="OAuth2 client secret (KEB_CLIENT_SECRET)"
    )
    parser.add_argument(
        "--token-url", default=argparse.SUPPRESS, help="token endpoint (KEB_TOKEN_URL; {url}/oauth2/token)"
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=argparse.SUPPRESS,
        help=f"scope to ask the token endpoint for, repeatable (default: {' '.join(ALL_SCOPES)})",
    )
    parser.add_argument(
        "--platform-region",
        default=argparse.SUPPRESS,
        help="SAP BTP platform region of the OSB path, /oauth/{region}/v2 (default: /oauth/v2)",
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default=argparse.SUPPRESS, help="text (default) or json"
    )


def add_client_parser(commands: Any) -> None:
    """Register ``keb client`` and its commands on the top-level subparsers."""
    client = commands.add_parser(
        "client",
        help="drive a broker over HTTP: catalog, provision, status, update, bind, unbind, deprovision, "
        "runtimes",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(client)
    sub = client.add_subparsers(dest="client_command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        _common_options(parser)
        return parser

    command("catalog", "print the plans of the catalog")

    provision = command("provision", "provision instances and wait until they succeed or fail")
    provision.add_argument("--plan", required=True, help="plan name or id, e.g. aws, trial")
    provision.add_argument("--region", help="cluster region, e.g. eu-central-1")
    provision.add_argument("--name", help="runtime name (default keb-<id>; with --count, <name>-<n>)")
    provision.add_argument("--instance-id", help="instance id (default: a new UUID; only with --count 1)")
    provision.add_argument("--global-account", help="context.globalaccount_id (default: a new UUID each)")
    provision.add_argument("--subaccount", help="context.subaccount_id (default: a new UUID each)")
    provision.add_argument("--user", default="keb-client", help="context.user_id (default keb-client)")
    provision.add_argument("--parameters", default="{}", help="more provisioning parameters as JSON")
    provision.add_argument("--count", type=int, default=1, help="how many instances (default 1)")
    provision.add_argument("--concurrent", type=int, default=1, help="how many at once (default 1)")
    _wait_options(provision)

    status = command("status", "the state of an instance's last operation (exit 1 when it failed)")
    status.add_argument("instance_id")
    status.add_argument("--operation", help="an operation id (default: the latest)")

    update = command("update", "update an instance's parameters (or plan) and wait for it")
    update.add_argument("instance_id")
    update.add_argument("--plan", help="a new plan name or id")
    update.add_argument("--parameters", default="{}", help="parameters to change, as JSON")
    _wait_options(update)

    bind = command("bind", "create a binding and write its kubeconfig to a file (mode 0600)")
    bind.add_argument("instance_id")
    bind.add_argument("--binding-id", help="binding id (default: a new UUID)")
    bind.add_argument("--kubeconfig", required=True, type=Path, help="file to write the kubeconfig to")
    bind.add_argument("--token-request", action="store_true", help="a revocable ServiceAccount token")
    bind.add_argument("--expiration-seconds", type=int, help="lifetime (600 to 7200 by default)")

    unbind = command("unbind", "delete a binding")
    unbind.add_argument("instance_id")
    unbind.add_argument("binding_id")

    deprovision = command("deprovision", "deprovision an instance and wait until it is gone")
    deprovision.add_argument("instance_id")
    deprovision.add_argument("--plan", help="plan name or id (default: looked up)")
    _wait_options(deprovision)

    runtimes = command("runtimes", "list runtimes (GET /runtimes), with filters")
    for key in RUNTIME_FILTERS:
        runtimes.add_argument(f"--{key.replace('_', '-')}", dest=f"filter_{key}", action="append", default=[])
    runtimes.add_argument("--page", type=int, help="page number (from 1)")
    runtimes.add_argument("--page-size", type=int, help="runtimes per page (at most 100)")


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return once the broker accepted")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (3600)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls (2)")


def _json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{option}: not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: must be a JSON object")
    return value


def _option(args: argparse.Namespace, name: str, env: Mapping[str, str], variable: str) -> str | None:
    value = getattr(args, name, None)
    return value if value is not None else (env.get(variable) or None)


async def _connect(args: argparse.Namespace, env: Mapping[str, str], http: httpx.AsyncClient) -> BrokerClient:
    url = _option(args, "url", env, "KEB_URL") or DEFAULT_URL
    token_text = _option(args, "token", env, "KEB_TOKEN")
    client_id = _option(args, "client_id", env, "KEB_CLIENT_ID")
    client_secret = _option(args, "client_secret", env, "KEB_CLIENT_SECRET")
    token: Secret | None = Secret(token_text) if token_text else None
    if token is None and (client_id or client_secret):
        if not (client_id and client_secret):
            raise UsageError("client credentials need both --client-id and --client-secret")
        token_url = _option(args, "token_url", env, "KEB_TOKEN_URL") or f"{url.rstrip('/')}/oauth2/token"
        scopes = getattr(args, "scope", None) or list(ALL_SCOPES)
        token = await client_credentials_token(http, token_url, client_id, Secret(client_secret), scopes)
    return BrokerClient(http, url, token, getattr(args, "platform_region", None))


async def _plan_id(broker: BrokerClient, plan: str) -> str:
    plans = await broker.plans()
    for candidate in plans:
        if plan in (candidate.get("id"), candidate.get("name")):
            return str(candidate["id"])
    names = ", ".join(sorted(str(p.get("name")) for p in plans)) or "none"
    raise UsageError(f"--plan {plan!r} is not in the catalog of this platform region (plans: {names})")


# --- commands -------------------------------------------------------------------------------------


async def _catalog(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    catalog = await broker.catalog()

    def text() -> None:
        table = Table("PLAN", "ID", "BINDABLE", "DESCRIPTION")
        for service in catalog.get("services", []):
            for plan in service.get("plans", []):
                bindable = plan.get("bindable", service.get("bindable", False))
                table.add_row(
                    plan.get("name"), plan.get("id"), "yes" if bindable else "no", plan.get("description")
                )
        output.out.print(table)

    output.result(catalog, text)
    return OK


@attrs.frozen
class Provisioned:
    instance_id: str
    name: str
    state: str
    description: str
    seconds: float
    operation: str | None = None


async def _provision(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    if args.count < 1 or args.concurrent < 1:
        raise UsageError("--count and --concurrent must be at least 1")
    if args.instance_id and args.count != 1:
        raise UsageError("--instance-id names one instance; leave it out with --count")
    extra = _json_object("--parameters", args.parameters)
    plan_id = await _plan_id(broker, args.plan)
    limit = asyncio.Semaphore(args.concurrent)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=output.err,
        disable=output.json and not output.err.is_terminal,
    )

    async def one(index: int, task: Any) -> Provisioned:
        instance_id = args.instance_id or str(uuid.uuid4())
        base = args.name or f"keb-{instance_id[:8]}"
        name = base if args.count == 1 else f"{base}-{index + 1}"
        parameters = {"name": name, **({"region": args.region} if args.region else {}), **extra}
        context = {
            "globalaccount_id": args.global_account or str(uuid.uuid4()),
            "subaccount_id": args.subaccount or str(uuid.uuid4()),
            "user_id": args.user,
        }
        started = time.monotonic()
        async with limit:
            try:
                operation = await broker.provision(instance_id, plan_id, context, parameters)
                if args.no_wait:
                    state = Operation("in progress", "accepted")
                else:
                    state = await broker.wait(
                        instance_id, operation, poll_interval=args.poll_interval, give_up_after=args.timeout
                    )
            except BrokerError as error:
                operation, state = None, Operation("failed", str(error))
        failed = state.state == "failed"
        progress.update(task, advance=1, failed=progress.tasks[0].fields["failed"] + int(failed))
        return Provisioned(
            instance_id, name, state.state, state.description, time.monotonic() - started, operation
        )

    with progress:
        task = progress.add_task(
            "provisioning" if not args.no_wait else "submitting", total=args.count, failed=0
        )
        results = await asyncio.gather(*(one(index, task) for index in range(args.count)))
    failed = [r for r in results if r.state == "failed"]

    def text() -> None:
        table = Table("INSTANCE", "NAME", "STATE", "SECONDS", "DESCRIPTION")
        for r in results:
            table.add_row(r.instance_id, r.name, r.state, f"{r.seconds:.1f}", r.description)
        output.out.print(table)
        output.out.print(
            f"{len(results) - len(failed)} of {len(results)} {'accepted' if args.no_wait else 'succeeded'}"
        )

    output.result([attrs.asdict(r) for r in results], text)
    return FAILED if failed else OK


async def _status(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    state = await broker.last_operation(args.instance_id, args.operation)
    output.result(
        {"instance_id": args.instance_id, "state": state.state, "description": state.description},
        lambda: output.out.print(f"{args.instance_id}: {state.state} ({state.description})"),
    )
    return FAILED if state.state == "failed" else OK


async def _finish(
    broker: BrokerClient, args: argparse.Namespace, output: Output, operation: str | None, what: str
) -> int:
    """Wait for an accepted operation (unless --no-wait) and report it."""
    if operation is None or args.no_wait:
        state = Operation("succeeded" if operation is None else "in progress", what)
    else:
        with output.err.status(f"{what}: waiting for operation {operation}"):
            state = await broker.wait(
                args.instance_id, operation, poll_interval=args.poll_interval, give_up_after=args.timeout
            )
    output.result(
        {
            "instance_id": args.instance_id,
            "operation": operation,
            "state": state.state,
            "description": state.description,
        },
        lambda: output.out.print(f"{args.instance_id}: {what} {state.state} ({state.description})"),
    )
    return FAILED if state.state == "failed" else OK


async def _update(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    parameters = _json_object("--parameters", args.parameters)
    plan_id = await _plan_id(broker, args.plan) if args.plan else None
    operation = await broker.update(args.instance_id, plan_id=plan_id, parameters=parameters)
    return await _finish(broker, args, output, operation, "update")


async def _deprovision(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    plan_id = await _plan_id(broker, args.plan) if args.plan else await broker.plan_of(args.instance_id)
    operation = await broker.deprovision(args.instance_id, plan_id)
    return await _finish(broker, args, output, operation, "deprovisioning")


def write_private(path: Path, content: str) -> None:
    """Write ``content`` to a file only its owner can read, also when the file existed with looser bits.

    A missing directory is created readable by its owner only (``~/.kube`` on a fresh machine).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, content.encode("utf-8"))
    finally:
        os.close(descriptor)


async def _bind(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    binding_id = args.binding_id or str(uuid.uuid4())
    parameters: dict[str, Any] = {}
    if args.token_request:
        parameters["token_request"] = True
    if args.expiration_seconds is not None:
        parameters["expiration_seconds"] = args.expiration_seconds
    plan_id = await broker.plan_of(args.instance_id)
    kubeconfig, expires_at = await broker.bind(args.instance_id, binding_id, plan_id, parameters)
    write_private(args.kubeconfig, kubeconfig.reveal())
    output.result(
        {
            "instance_id": args.instance_id,
            "binding_id": binding_id,
            "kubeconfig": str(args.kubeconfig),
            "expires_at": expires_at,
        },
        lambda: output.out.print(
            f"binding {binding_id}: kubeconfig written to {args.kubeconfig} (mode 0600), "
            f"expires at {expires_at}"
        ),
    )
    return OK


async def _unbind(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    plan_id = await broker.plan_of(args.instance_id)
    await broker.unbind(args.instance_id, args.binding_id, plan_id)
    output.result(
        {"instance_id": args.instance_id, "binding_id": args.binding_id, "state": "deleted"},
        lambda: output.out.print(f"binding {args.binding_id} deleted"),
    )
    return OK


async def _runtimes(broker: BrokerClient, args: argparse.Namespace, output: Output) -> int:
    filters: dict[str, Sequence[str]] = {
        key: getattr(args, f"filter_{key}") for key in RUNTIME_FILTERS if getattr(args, f"filter_{key}")
    }
    if args.page is not None:
        filters["page"] = [str(args.page)]
    if args.page_size is not None:
        filters["page_size"] = [str(args.page_size)]
    page = await broker.runtimes(filters)

    def text() -> None:
        table = Table("INSTANCE", "RUNTIME", "PLAN", "REGION", "STATE", "SUBACCOUNT", "CREATED")
        for runtime in page.get("data", []):
            status = runtime.get("status", {})
            table.add_row(
                runtime.get("instanceID"),
                runtime.get("runtimeID"),
                runtime.get("servicePlanName"),
                runtime.get("region"),
                status.get("state"),
                runtime.get("subAccountID"),
                str(status.get("createdAt", ""))[:19],
            )
        output.out.print(table)
        output.out.print(f"{page.get('count', 0)} shown of {page.get('totalCount', 0)}")

    output.result(page, text)
    return OK


def _console(*, stderr: bool) -> Console:
    """A terminal's own width; piped output wide enough that ids are never cut."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=250)


COMMANDS: dict[str, Callable[[BrokerClient, argparse.Namespace, Output], Coroutine[Any, Any, int]]] = {
    "catalog": _catalog,
    "provision": _provision,
    "status": _status,
    "update": _update,
    "bind": _bind,
    "unbind": _unbind,
    "deprovision": _deprovision,
    "runtimes": _runtimes,
}


async def _run(args: argparse.Namespace, env: Mapping[str, str], output: Output) -> int:
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as http:
        broker = await _connect(args, env, http)
        return await COMMANDS[args.client_command](broker, args, output)


def run_client(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    *,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    """Run one ``keb client`` command; the exit status."""
    output = Output(
        json=getattr(args, "output", "text") == "json",
        out=out or _console(stderr=False),
        err=err or _console(stderr=True),
    )
    try:
        return asyncio.run(_run(args, os.environ if env is None else env, output))
    except UsageError as error:
        output.err.print(f"keb client: {error}", markup=False, highlight=False)
        return USAGE
    except BrokerError as error:
        output.err.print(f"keb client: {error}", markup=False, highlight=False)
        return FAILED
    except OSError as error:
        output.err.print(f"keb client: {error}", markup=False, highlight=False)
        return FAILED
