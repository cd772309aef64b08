"""Settings from the environment (``ONEMAP_*``) with embedded defaults.

Nothing here imports the rest of the project: every other module receives a ``Config``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

# The city's time zone (Guiyang's, all of China's). Times are stored as naive UTC and shown in this one,
# on every screen, in the review page's hours and days and in exports.
CITY_TIMEZONE = "Asia/Shanghai"

ROOT = Path(__file__).resolve().parent
DISTRICTS_FILE = ROOT / "data" / "files" / "guiyang-520100-districts.geojson"
RULES_FILE = ROOT / "rules.toml"
CALENDAR_FILE = ROOT / "calendar.toml"

# Minutes until an item is overdue, by kind and priority (1 = most urgent).
DEFAULT_SLA_MINUTES: dict[str, dict[int, int]] = {
    "fire": {1: 5, 2: 10, 3: 15},
    "police": {1: 10, 2: 20, 3: 30},
    "ticket": {1: 120, 2: 480, 3: 1440},
    "alarm": {1: 10, 2: 20, 3: 30},
    "visit": {1: 1440, 2: 4320, 3: 10080},
}
# Minutes a worker has to accept an assignment before it goes back to the operators.
DEFAULT_ACCEPT_MINUTES = 5
# Sources of reports that start at "verifying" (an on-site check first) rather than "reported".
DEFAULT_VERIFY_SOURCES = frozenset({"citizen", "open311"})
# Days of past items the demo city starts with (`python app.py`), so the review page has a history.
DEFAULT_HISTORY_DAYS = 30
# Days of items each web process holds in memory for the review page (data/history.py); a period that
# starts earlier is read from the store when asked for.
DEFAULT_MAP_GRID_OUTLINES = 2500  # the most grid outlines the command map draws at once (data/map_view.py)
DEFAULT_REVIEW_WINDOW_DAYS = 400
# A browser session ends after this long without a request (a polling screen never idles), and this long
# after sign-in whatever it does: a 12-hour shift plus an hour for the handover.
DEFAULT_SESSION_IDLE_MINUTES = 60
DEFAULT_SESSION_MAX_HOURS = 13
# Days personal data is kept (ops/retention.py), in the spirit of the Personal Information Protection Law
# (个人信息保护法 §19: no longer than the purpose needs). Reporters' names and phones serve the callback
# after a case closes; photos are the evidence of the handling (a review or complaint comes within months);
# door-access events are whereabouts, needed only for the warning rules (an hour) and a short look back.
DEFAULT_RETAIN_REPORTER_DAYS = 180
DEFAULT_RETAIN_PHOTO_DAYS = 365
DEFAULT_RETAIN_ACCESS_DAYS = 30


class ConfigError(ValueError):
    """A setting in the environment has a value the app cannot use."""


def _int(env: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is outside {lo}..{hi}")
    return value


def _float(env: dict[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is outside {lo}..{hi}")
    return value


def _sla(env: dict[str, str]) -> dict[str, dict[int, int]]:
    """Due times: the defaults, with any kind/priority overridden by ONEMAP_SLA_MINUTES (JSON)."""
    raw = env.get("ONEMAP_SLA_MINUTES")
    sla = {kind: dict(by_priority) for kind, by_priority in DEFAULT_SLA_MINUTES.items()}
    if not raw:
        return sla
    try:
        given = json.loads(raw)
        for kind, by_priority in given.items():
            for priority, minutes in by_priority.items():
                if kind not in sla or int(priority) not in (1, 2, 3) or int(minutes) <= 0:
                    raise ValueError(f"{kind}/{priority}")
                sla[kind][int(priority)] = int(minutes)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(
            f'ONEMAP_SLA_MINUTES={raw!r}: use JSON like {{"fire": {{"1": 5}}}} with known kinds, '
            f"priorities 1-3 and positive minutes ({exc})"
        ) from exc
    return sla


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def _secret_keys(env: dict[str, str]) -> tuple[str | None, tuple[str, ...]]:
    """The session-signing key and the previous ones still accepted (from the variable or the file)."""
    keys: list[str] = []
    if env.get("ONEMAP_SECRET_KEY"):
        keys.append(env["ONEMAP_SECRET_KEY"].strip())
    elif env.get("ONEMAP_SECRET_KEY_FILE"):
        path = env["ONEMAP_SECRET_KEY_FILE"]
        try:  # the first line signs, the lines after it are previous keys (rotation)
            keys = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise ConfigError(f"ONEMAP_SECRET_KEY_FILE={path!r}: {exc.strerror}") from exc
        if not keys:
            raise ConfigError(f"ONEMAP_SECRET_KEY_FILE={path!r} is empty")
    keys += [k.strip() for k in (env.get("ONEMAP_SECRET_KEY_PREVIOUS") or "").split(",") if k.strip()]
    if any(len(k) < 16 for k in keys):
        raise ConfigError("a session-signing key is shorter than 16 characters (use 32 or more random ones)")
    return (keys[0] if keys else None), tuple(keys[1:])


def _names(env: dict[str, str], name: str, default: frozenset[str]) -> frozenset[str]:
    """A comma-separated set of short names; "-" for none."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() == "-":
        return frozenset()
    names = [n.strip() for n in raw.split(",")]
    if not all(n and len(n) <= 32 and n.replace("_", "").replace("-", "").isalnum() for n in names):
        raise ConfigError(f"{name}={raw!r}: use comma-separated names like citizen,open311 (or - for none)")
    return frozenset(names)


@dataclass(frozen=True)
class Config:
    """Everything the app, the CLI and the simulator need to know about their environment."""

    database_url: str = f"sqlite:///{ROOT / 'onemap.db'}"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8050
    lang: str = "zh-CN"
    bootstrap_token: str | None = None
    tile_url: str | None = None
    tile_crs: str = "wgs84"
    grid_count: int = 2000
    workers_per_grid: int = 2
    parking_spaces: int = 1031
    seed: int = 20261122
    simulate: bool = True
    sim_speed: float = 10.0
    sim_tick_seconds: float = 1.0
    poll_ms: int = 1000
    accept_minutes: int = DEFAULT_ACCEPT_MINUTES
    secret_key: str | None = None  # signs session cookies; None: a key kept in the store (SQLite only)
    secret_key_fallbacks: tuple[str, ...] = ()  # previous keys, still accepted when verifying a cookie
    session_idle_minutes: int = DEFAULT_SESSION_IDLE_MINUTES
    session_max_hours: int = DEFAULT_SESSION_MAX_HOURS
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* headers are believed
    login_account_failures: int = 5  # wrong passwords for one user name before it is locked for a while
    login_address_failures: int = 30  # and from one client address (a control room shares one)
    login_lock_minutes: int = 15
    media_dir: str = str(ROOT / "media")
    dedup_metres: float = 50.0
    dedup_minutes: int = 10
    sla_minutes: dict[str, dict[int, int]] = field(default_factory=lambda: DEFAULT_SLA_MINUTES)
    rules_file: str = str(RULES_FILE)
    rules_seconds: float = 10.0
    calendar_file: str = str(CALENDAR_FILE)  # working periods, holidays, 调休 (ops/working_time.py)
    # Report sources whose tickets a grid worker checks on site (核实) before they are filed.
    verify_sources: frozenset[str] = DEFAULT_VERIFY_SOURCES
    history_days: int = 0  # Config() in code seeds no history; ONEMAP_HISTORY_DAYS defaults to 30 below
    review_window_days: int = DEFAULT_REVIEW_WINDOW_DAYS  # review items held in memory per process
    map_grid_outlines: int = DEFAULT_MAP_GRID_OUTLINES
    alerts: bool = True  # the wall's banner for a new fire or priority-1 item
    alert_sound: bool = False  # and a tone with it
    max_body_mb: int = 16  # request bodies above this are refused (413); a photo is at most 8 MB
    rate_per_minute: int = 6000  # requests per API token per minute on each ingestion door (0 = no limit)
    token_days: int = 365  # days a new API token stays valid (0 = until revoked)
    # The demo city and its demo accounts (published password) when the store is empty. A Config built in
    # code (tests, bench) seeds; from the environment only ``python app.py`` on the embedded SQLite file
    # does, or ONEMAP_DEMO=1 (see from_env).
    demo: bool = True
    retain_reporter_days: int = DEFAULT_RETAIN_REPORTER_DAYS
    retain_photo_days: int = DEFAULT_RETAIN_PHOTO_DAYS
    retain_access_days: int = DEFAULT_RETAIN_ACCESS_DAYS
    retention_seconds: float = 3600.0  # how often the app purges what is past its days

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, embedded: bool = False, **overrides: object) -> Config:
        """Read ``ONEMAP_*`` variables; raise ``ConfigError`` naming the bad one.

        ``embedded`` (``python app.py``): on the embedded SQLite default the demo city is seeded unless
        ONEMAP_DEMO=0; everywhere else (another database, gunicorn, the CLI) only with ONEMAP_DEMO=1.
        """
        env = dict(os.environ if env is None else env)
        database_url = env.get("ONEMAP_DATABASE_URL") or cls.database_url
        lang = env.get("ONEMAP_LANG") or cls.lang
        if lang not in {"zh-CN", "en"}:
            raise ConfigError(f"ONEMAP_LANG={lang!r}: use zh-CN or en")
        tile_crs = (env.get("ONEMAP_TILE_CRS") or "wgs84").lower()
        if tile_crs not in {"wgs84", "gcj02"}:
            raise ConfigError(f"ONEMAP_TILE_CRS={tile_crs!r}: use wgs84 or gcj02")
        secret_key, secret_key_fallbacks = _secret_keys(env)
        cfg = cls(
            database_url=database_url,
            redis_url=env.get("ONEMAP_REDIS_URL") or None,
            host=env.get("ONEMAP_HOST") or cls.host,
            port=_int(env, "ONEMAP_PORT", cls.port, 1, 65535),
            lang=lang,
            bootstrap_token=env.get("ONEMAP_BOOTSTRAP_TOKEN") or None,
            tile_url=env.get("ONEMAP_TILE_URL") or None,
            tile_crs=tile_crs,
            grid_count=_int(env, "ONEMAP_GRID_COUNT", cls.grid_count, 10, 20000),
            workers_per_grid=_int(env, "ONEMAP_WORKERS_PER_GRID", cls.workers_per_grid, 1, 10),
            parking_spaces=_int(env, "ONEMAP_PARKING_SPACES", cls.parking_spaces, 0, 50000),
            seed=_int(env, "ONEMAP_SEED", cls.seed, 0, 2**31 - 1),
            simulate=_bool(env, "ONEMAP_SIMULATE", cls.simulate),
            sim_speed=_float(env, "ONEMAP_SIM_SPEED", cls.sim_speed, 0.1, 10000.0),
            poll_ms=_int(env, "ONEMAP_POLL_MS", cls.poll_ms, 200, 60000),
            accept_minutes=_int(env, "ONEMAP_ACCEPT_MINUTES", cls.accept_minutes, 1, 1440),
            secret_key=secret_key,
            secret_key_fallbacks=secret_key_fallbacks,
            session_idle_minutes=_int(env, "ONEMAP_SESSION_IDLE_MINUTES", cls.session_idle_minutes, 1, 7 * 1440),
            session_max_hours=_int(env, "ONEMAP_SESSION_MAX_HOURS", cls.session_max_hours, 1, 31 * 24),
            trusted_proxies=_int(env, "ONEMAP_TRUSTED_PROXIES", cls.trusted_proxies, 0, 5),
            login_account_failures=_int(env, "ONEMAP_LOGIN_ACCOUNT_FAILURES", cls.login_account_failures, 1, 1000),
            login_address_failures=_int(env, "ONEMAP_LOGIN_ADDRESS_FAILURES", cls.login_address_failures, 1, 100000),
            login_lock_minutes=_int(env, "ONEMAP_LOGIN_LOCK_MINUTES", cls.login_lock_minutes, 1, 1440),
            media_dir=env.get("ONEMAP_MEDIA_DIR") or cls.media_dir,
            sla_minutes=_sla(env),
            dedup_metres=_float(env, "ONEMAP_DEDUP_METRES", cls.dedup_metres, 0.0, 5000.0),
            dedup_minutes=_int(env, "ONEMAP_DEDUP_MINUTES", cls.dedup_minutes, 0, 1440),
            rules_file=env.get("ONEMAP_RULES_FILE") or cls.rules_file,
            rules_seconds=_float(env, "ONEMAP_RULES_SECONDS", cls.rules_seconds, 1.0, 3600.0),
            calendar_file=env.get("ONEMAP_CALENDAR_FILE") or cls.calendar_file,
            verify_sources=_names(env, "ONEMAP_VERIFY_SOURCES", cls.verify_sources),
            history_days=_int(env, "ONEMAP_HISTORY_DAYS", DEFAULT_HISTORY_DAYS, 0, 400),
            review_window_days=_int(env, "ONEMAP_REVIEW_WINDOW_DAYS", cls.review_window_days, 1, 36500),
            map_grid_outlines=_int(env, "ONEMAP_MAP_GRID_OUTLINES", cls.map_grid_outlines, 10, 1_000_000),
            alerts=_bool(env, "ONEMAP_ALERTS", cls.alerts),
            alert_sound=_bool(env, "ONEMAP_ALERT_SOUND", cls.alert_sound),
            max_body_mb=_int(env, "ONEMAP_MAX_BODY_MB", cls.max_body_mb, 9, 1024),
            rate_per_minute=_int(env, "ONEMAP_RATE_PER_MINUTE", cls.rate_per_minute, 0, 10_000_000),
            token_days=_int(env, "ONEMAP_TOKEN_DAYS", cls.token_days, 0, 3650),
            demo=_bool(env, "ONEMAP_DEMO", embedded and database_url == cls.database_url),
            retain_reporter_days=_int(env, "ONEMAP_RETAIN_REPORTER_DAYS", cls.retain_reporter_days, 1, 3650),
            retain_photo_days=_int(env, "ONEMAP_RETAIN_PHOTO_DAYS", cls.retain_photo_days, 1, 3650),
            retain_access_days=_int(env, "ONEMAP_RETAIN_ACCESS_DAYS", cls.retain_access_days, 1, 3650),
        )
        return replace(cfg, **overrides) if overrides else cfg

    @property
    def store_kind(self) -> str:
        """``sqlite`` or ``postgresql``, as reported by the health endpoint."""
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"
