"""The `recoop` command line: serve, demo, db upgrade, token create, solve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from routes_planner.params import positive_seconds
from service.settings import Settings

log = logging.getLogger("recoop")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
        )
        raise SystemExit(f"recoop: configuration error: {messages}") from None


async def ensure_schema(settings: Settings) -> None:
    """SQLite is brought up to date automatically; PostgreSQL must be migrated first."""
    from service.persistence.db import create_database
    from service.persistence.migrate import current_and_head, upgrade

    db = create_database(settings.database_url)
    try:
        if settings.is_sqlite:
            await upgrade(db.writer)
            return
        current, head = await current_and_head(db.writer)
        if current != head:
            raise SystemExit(
                f"recoop: the database is at migration {current or 'none'}, the code needs "
                f"{head}: run `recoop db upgrade` first"
            )
    finally:
        await db.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from service.app import create_app
    from service.bootstrap import build
    from service.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format)
    asyncio.run(ensure_schema(settings))

    async def make_app() -> web.Application:
        return create_app(build(settings), role=args.role)

    log.info("serving role=%s on http://%s:%s", args.role, args.host, args.port)
    web.run_app(make_app(), host=args.host, port=args.port, print=None)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from service.persistence.db import create_database
    from service.persistence.migrate import upgrade

    settings = _settings()

    async def run() -> None:
        db = create_database(settings.database_url)
        try:
            await upgrade(db.writer, args.revision)
        finally:
            await db.dispose()

    asyncio.run(run())
    print(f"database upgraded to {args.revision}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from service.bootstrap import build
    from service.domain.commands import CreateApiToken

    settings = _settings()

    async def run() -> str:
        await ensure_schema(settings)
        deps = build(settings, background=[])
        try:
            token: str = await deps.bus.handle(
                CreateApiToken(args.role, args.name or "")
            )
            return token
        finally:
            await deps.close()

    token = asyncio.run(run())
    article = "an" if args.role[0] in "aeiou" else "a"
    print(
        f"created {article} {args.role} token; shown only this once:", file=sys.stderr
    )
    print(token)
    return 0


def _stdin_lines() -> list[str]:
    return [line.rstrip("\r") for line in sys.stdin.read().splitlines()]


def cmd_operator_create(args: argparse.Namespace) -> int:
    import getpass

    from service.bootstrap import build
    from service.domain.errors import InvalidInput

    if args.name and args.username and args.name != args.username:
        print("give the name once (NAME or --name NAME)", file=sys.stderr)
        return 2
    args.username = args.name or args.username
    if not args.username:
        print("recoop operator create: give a name (--name NAME)", file=sys.stderr)
        return 2
    settings = _settings()
    generated = None
    piped = [] if args.generate_password or sys.stdin.isatty() else _stdin_lines()
    if args.password_stdin:
        password = piped[0] if piped else ""
    elif args.generate_password or (not sys.stdin.isatty() and not piped):
        # Nobody to ask and nothing given: a strong password, shown once.
        password = generated = secrets.token_urlsafe(15)
    elif piped:
        # A password piped in (as getpass would read it), typed twice or once.
        password = piped[0]
        if len(piped) > 1 and piped[1] != password:
            print("the passwords differ; nothing created", file=sys.stderr)
            return 2
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ; nothing created", file=sys.stderr)
            return 2

    async def run() -> int:
        await ensure_schema(settings)
        deps = build(settings, background=[])
        try:
            return await deps.auth.create_operator(args.username, password)
        finally:
            await deps.close()

    try:
        asyncio.run(run())
    except InvalidInput as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 2
    print(f"created operator {args.username.strip().lower()}; sign in at /ops")
    if generated is not None:
        print(f"password (shown only now): {generated}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    return run_demo(
        households=args.households,
        serve=not args.no_serve,
        out=args.out,
        port=args.port,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    import json
    from datetime import date

    from service.bootstrap import build
    from service.domain.commands import PlanDay
    from service.domain.errors import DomainError

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise SystemExit(
            f"recoop: --date must be YYYY-MM-DD, not {args.date!r}"
        ) from None
    settings = _settings()

    async def run() -> dict[str, object]:
        await ensure_schema(settings)
        deps = build(settings, background=[])
        try:
            summary = await deps.bus.handle(PlanDay(day, seconds=args.seconds))
            # Send the texts now rather than waiting for a running server to do it.
            while await deps.dispatcher.run_once():
                pass
            result: dict[str, object] = summary.to_json()
            return result
        finally:
            await deps.close()

    try:
        summary = asyncio.run(run())
    except DomainError as exc:  # a day gone, another plan of the day still running
        raise SystemExit(f"recoop plan: {exc}") from None
    print(json.dumps(summary, indent=2))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from service.bootstrap import build
    from service.ledger.reconcile import (
        LedgerPayout,
        StatementError,
        StatementRow,
        parse_sandbox_statement,
        reconcile,
        render_text,
    )

    if args.from_provider == (args.statement is not None):
        raise SystemExit(
            "recoop: give a statement file or --from-provider (not both, not neither)"
        )
    rows: list[StatementRow] = []
    if args.statement is not None:
        if args.provider != "sandbox":
            raise SystemExit(
                f"recoop: {args.provider} publishes no statement file format; use "
                "--from-provider to ask its status API, or convert the file to "
                "reference,amount_kobo,currency,status,completed_at"
            )
        try:
            rows = parse_sandbox_statement(
                Path(args.statement).read_text(encoding="utf-8-sig")
            )
        except OSError as exc:
            raise SystemExit(
                f"recoop: cannot read {args.statement}: {exc.strerror}"
            ) from None
        except StatementError as exc:
            raise SystemExit(f"recoop: {args.statement}: {exc}") from None
    settings = _settings()
    notes: list[str] = []

    async def ours() -> list[tuple[str, int, str]]:
        from service.provider_statement import SentPayout, statement_from_provider

        await ensure_schema(settings)
        deps = build(settings, background=[])
        try:
            found = await deps.money.payouts_with_txn(args.provider)
            if args.from_provider:
                provider = deps.payouts.get(args.provider)
                if provider is None:
                    raise SystemExit(
                        f"recoop: provider {args.provider!r} is not configured "
                        "(RECOOP_PAYOUT_PROVIDER / RECOOP_AIRTIME_PROVIDER)"
                    )
                statement = await statement_from_provider(
                    provider,
                    [SentPayout(*p) for p in found],
                    currency=settings.currency,
                )
                rows.extend(statement.rows)
                for label, refs in (
                    ("still pending at the provider", statement.not_final),
                    ("never received by the provider", statement.unknown),
                    ("status call failed (try again)", statement.unreachable),
                ):
                    if refs:
                        notes.append(f"{label}: {len(refs)} ({', '.join(refs[:5])})")
            return [(ref, amount, status) for ref, amount, status, _ in found]
        finally:
            await deps.close()

    ledger = [LedgerPayout(*p) for p in asyncio.run(ours())]
    report = reconcile(rows, ledger)
    print(json.dumps(report.to_json(), indent=2) if args.json else render_text(report))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 1 if report.has_differences else 0


def cmd_solve(args: argparse.Namespace) -> int:
    from routes_planner import vrplib as planner_files

    argv = [args.file, "--seconds", str(args.seconds)] + (
        ["--json"] if args.json else []
    )
    return int(planner_files.main(argv) or 0)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="recoop", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the web app, webhooks and background jobs"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="a simulated day in Lagos, end to end")
    demo.add_argument("--households", type=int, default=40)
    demo.add_argument("--no-serve", action="store_true", help="exit after the summary")
    demo.add_argument("--out", default="demo-out", help="folder for the demo database")
    demo.add_argument("--port", type=int, default=8080)
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations to RECOOP_DATABASE_URL")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    token = sub.add_parser("token", help="API bearer tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="print a new token")
    create.add_argument("--role", choices=["operator", "collector"], required=True)
    create.add_argument("--name", default="")
    create.set_defaults(func=cmd_token_create)

    operator = sub.add_parser("operator", help="dashboard sign-in accounts")
    operator_sub = operator.add_subparsers(dest="operator_command", required=True)
    op_create = operator_sub.add_parser(
        "create", help="add an operator (asks for the password)"
    )
    op_create.add_argument("username", nargs="?", help="the sign-in name")
    op_create.add_argument("--name", help="the sign-in name (instead of USERNAME)")
    how = op_create.add_mutually_exclusive_group()
    how.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    how.add_argument(
        "--generate-password",
        action="store_true",
        help="make a strong password and print it once (the default when there is "
        "no terminal and nothing on stdin)",
    )
    op_create.set_defaults(func=cmd_operator_create)

    plan = sub.add_parser("plan", help="plan a day's rounds from open pickup requests")
    plan.add_argument("--date", required=True, help="YYYY-MM-DD")
    plan.add_argument(
        "--seconds", type=positive_seconds, default=None, help="solver time budget"
    )
    plan.set_defaults(func=cmd_plan)

    rec = sub.add_parser("reconcile", help="match a provider statement against payouts")
    rec.add_argument("--provider", required=True)
    rec.add_argument("statement", nargs="?", help="the sandbox's CSV statement")
    rec.add_argument(
        "--from-provider",
        action="store_true",
        help="build the statement from the provider's status API (MoMo, AT airtime)",
    )
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(func=cmd_reconcile)

    solve = sub.add_parser(
        "solve", help="run the route planner on a VRPLIB/Solomon file"
    )
    solve.add_argument("file")
    solve.add_argument("--seconds", type=positive_seconds, default=10.0)
    solve.add_argument("--json", action="store_true")
    solve.set_defaults(func=cmd_solve)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status = int(args.func(args))
    except KeyboardInterrupt:
        return 130
    if argv is None and args.command == "solve":
        # The command line's answer is printed and its workers are gone: skip
        # tearing down the service's modules (70 ms past the budget).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
