"""OneMap command line: create the database, import grids, seed the demo city, run the simulator,
create users, issue, list and revoke API tokens, purge personal data past its days, write the monthly
evaluation report (PDF). Settings come
from the same ONEMAP_* variables as the app."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading

from config import Config, ConfigError
from data.demo import import_grids, seed_demo
from data.models import ROLES, utcnow
from data.runtime import open_store
from geo.grid_import import GridImportError, read_grid_file
from locales import LANGS
from ops.accounts import create_token, create_user, list_tokens, revoke_token
from ops.errors import OneMapError

MIN_PASSWORD = 10


def _init_db(config: Config, _args: argparse.Namespace) -> int:
    from ops import case_facts

    store = open_store(config)
    print(f"schema up to date on {store.kind}")
    # After an upgrade, fold the case log into the evaluation's kept rows now rather than on the first read.
    folded = case_facts.refresh(store)
    print(f"case facts up to date ({folded:,} cases folded in)")
    return 0


def _import(config: Config, args: argparse.Namespace) -> int:
    report = read_grid_file(args.file, crs=args.crs, name_field=args.name_field)
    print(report.summary())
    if report.errors or (report.overlaps and not args.allow_overlaps):
        print("nothing imported: fix the problems above (or pass --allow-overlaps)", file=sys.stderr)
        return 2
    count = import_grids(open_store(config), report.features, district=args.district or "")
    print(f"imported {count} grids")
    return 0


def _seed(config: Config, _args: argparse.Namespace) -> int:
    summary = seed_demo(open_store(config), config)
    print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _simulate(config: Config, args: argparse.Namespace) -> int:
    from data.queries import load_grid_index
    from ops.cases import city_cases
    from ops.simulator import Simulator

    store = open_store(config)
    sim = Simulator(store, load_grid_index(store), config, cases=city_cases(store, config))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a service manager: end after this tick
        signal.signal(signum, lambda _signum, _frame: stop.set())
    print(f"simulating at {config.sim_speed:g}x; Ctrl-C stops", flush=True)
    if args.seconds:
        timer = threading.Timer(args.seconds, stop.set)
        timer.daemon = True  # a stop by signal must not wait for the timer
        timer.start()
    sim.run(stop)
    return 0


def cli_actor() -> str:
    """Who acts through the CLI, for the audit log: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def read_password(from_stdin: bool) -> str:
    """The new user's password: one line of stdin, or asked twice at the terminal (never on the command line)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def _user(config: Config, args: argparse.Namespace) -> int:
    role = args.role_option or args.role
    if role is None:
        raise ConfigError("give the role: --role " + "|".join(ROLES))
    password = None if args.no_password else read_password(args.password_stdin)
    store = open_store(config)
    uid = create_user(store, args.username, role, args.name or "", password, args.department, by=cli_actor())
    where = f", department {args.department}" if args.department is not None else ""
    print(f"user {args.username} ({role}{where}) id {uid}")
    return 0


def _token(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from data.models import User

    store = open_store(config)
    with store.read() as s:
        uid = s.scalar(select(User.id).where(User.username == args.username))
    if uid is None:
        print(f"no user {args.username!r}", file=sys.stderr)
        return 2
    days = config.token_days if args.days is None else args.days
    print(create_token(store, uid, label=args.label, days=days, by=cli_actor()))
    print(f"valid {f'{days} days' if days else 'until revoked'}", file=sys.stderr)
    return 0


def _tokens(config: Config, _args: argparse.Namespace) -> int:
    rows = list_tokens(open_store(config))
    print("id\tuser\tprefix\tlabel\tcreated (UTC)\texpires (UTC)\tlast used (UTC)\tstate")
    for r in rows:
        expired = r["expires_at"] is not None and r["expires_at"] <= utcnow()
        state = "revoked" if r["revoked_at"] else ("expired" if expired else "valid")
        times = [f"{r[k]:%Y-%m-%d %H:%M}" if r[k] else "-" for k in ("created_at", "expires_at", "last_used_at")]
        print("\t".join([str(r["id"]), r["username"], r["prefix"] or "-", r["label"], *times, state]))
    return 0


def _revoke(config: Config, args: argparse.Namespace) -> int:
    token_id = revoke_token(open_store(config), args.token, by=cli_actor())
    print(f"token {token_id} revoked")
    return 0


def _purge(config: Config, _args: argparse.Namespace) -> int:
    from ops.retention import purge

    counts = purge(open_store(config), config, actor=cli_actor())
    days = (
        f"reporters after {config.retain_reporter_days} days, photos after {config.retain_photo_days}, "
        f"door-access events after {config.retain_access_days}"
    )
    print(f"purged ({days}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _report(config: Config, args: argparse.Namespace) -> int:
    from layouts import report as document
    from layouts.i18n import Text
    from ops import departments
    from ops.accounts import Actor
    from ops.report import gather

    store = open_store(config)
    data = gather(store, Actor(user_id=None, name=cli_actor(), role="admin"), args.month)
    try:
        pdf = document.build(Text(args.lang), data, departments.list_all(store), utcnow())
    except document.ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or f"onemap-report-{args.month}.pdf"
    with open(out, "wb") as f:
        f.write(pdf)
    print(f"report {args.month} ({args.lang}): {out}, {len(pdf)} bytes")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python manage.py", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create or migrate the schema (and bring the case facts up to date)").set_defaults(
        run=_init_db
    )
    imp = sub.add_parser("import-grids", help="import grid boundaries (GeoJSON or Shapefile)")
    imp.add_argument("file")
    imp.add_argument("--crs", default="wgs84", help="wgs84 (default), gcj02, bd09 or cgcs2000")
    imp.add_argument("--name-field", help="property holding each grid's name")
    imp.add_argument("--district", help="district name for grids whose file has none")
    imp.add_argument("--allow-overlaps", action="store_true", help="import even when grids overlap")
    imp.set_defaults(run=_import)
    sub.add_parser("seed-demo", help="build the demo city into an empty store").set_defaults(run=_seed)
    sim = sub.add_parser("simulate", help="run the simulator as a process of its own")
    sim.add_argument("--seconds", type=float, help="stop after this many seconds")
    sim.set_defaults(run=_simulate)
    usr = sub.add_parser("create-user", help="create a user")
    usr.add_argument("username")
    usr.add_argument("role", nargs="?", choices=list(ROLES), help="the role (or --role)")
    usr.add_argument("--role", dest="role_option", choices=list(ROLES))
    usr.add_argument("--department", type=int, help="a department's staff: the department id (role staff)")
    usr.add_argument("--name")
    usr.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else asked)")
    usr.add_argument("--no-password", action="store_true", help="no password: API tokens only")
    usr.set_defaults(run=_user)
    tok = sub.add_parser("create-token", help="issue an API token for a user (printed once)")
    tok.add_argument("username")
    tok.add_argument("--label", default="cli")
    tok.add_argument("--days", type=int, help="days it stays valid (default ONEMAP_TOKEN_DAYS; 0 = until revoked)")
    tok.set_defaults(run=_token)
    sub.add_parser("tokens", help="list API tokens: owner, prefix, expiry, last use").set_defaults(run=_tokens)
    rev = sub.add_parser("revoke-token", help="revoke an API token at once")
    rev.add_argument("token", help="the token's id or prefix (as `tokens` lists them), or its value")
    rev.set_defaults(run=_revoke)
    sub.add_parser("purge", help="purge personal data past its retention days (ONEMAP_RETAIN_*_DAYS)").set_defaults(
        run=_purge
    )
    rep = sub.add_parser("report", help="write the monthly evaluation report (PDF)")
    rep.add_argument("--month", required=True, help="the month on the city's clock, YYYY-MM")
    rep.add_argument("--out", help="the PDF file (default onemap-report-YYYY-MM.pdf)")
    rep.add_argument("--lang", default="zh-CN", choices=list(LANGS), help="zh-CN (default) or en")
    rep.set_defaults(run=_report)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return int(args.run(Config.from_env(), args))
    except (ConfigError, GridImportError, OneMapError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
