"""Users, roles and API tokens. Tokens are stored as SHA-256 digests, never in clear."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from werkzeug.security import check_password_hash, generate_password_hash

from data.models import ROLES, ApiToken, Department, User, utcnow
from data.store import Store, record_event
from ops.errors import Invalid, Unauthorized


@dataclass(frozen=True)
class Actor:
    """Who is acting: every rule in ops/ takes one and checks it itself."""

    user_id: int | None
    name: str
    role: str
    department_id: int | None = None  # staff of a department act for it (and the departments below it)


SYSTEM = Actor(user_id=None, name="system", role="admin")
# An unknown user name is checked against this, so it costs what a known one costs: timing tells no names.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))
PREFIX = 6  # characters of a token kept in clear, so an administrator can tell tokens apart
LAST_USED_STEP = timedelta(minutes=1)
BOOTSTRAP_LOCK = 0x0E0E_0003  # a PostgreSQL advisory lock id (the others: data/migrations/env.py)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    store: Store,
    username: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    department_id: int | None = None,
    by: str = SYSTEM.name,
) -> int:
    """Create a user with a role (a department's staff: role ``staff`` and its department); return its id.

    ``by`` names who did it in the audit log (the CLI passes the operating-system user)."""
    if role not in ROLES:
        raise Invalid("error.role_unknown", {"role": role, "roles": ", ".join(ROLES)}, field="role")
    if (role == "staff") != (department_id is not None):
        raise Invalid("error.staff_department", {}, field="department")
    with store.transaction() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise Invalid("error.user_exists", {"username": username}, field="username")
        if department_id is not None and s.get(Department, department_id) is None:
            raise Invalid("error.department_missing", {"id": department_id}, field="department")
        user = User(
            username=username,
            role=role,
            display_name=display_name or username,
            password_hash=generate_password_hash(password) if password else None,
            department_id=department_id,
        )
        s.add(user)
        s.flush()
        record_event(s, "user.created", "user", user.id, by, {"role": role})
        return user.id


def create_token(
    store: Store, user_id: int, label: str = "api", token: str | None = None, days: int = 0, by: str = SYSTEM.name
) -> str:
    """Issue an API token for a user, valid ``days`` days (0: until revoked), and return it in clear
    (the only time it is visible; its first characters stay visible as its prefix); ``by`` as above."""
    token = token or secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=days) if days else None
    with store.transaction() as s:
        s.add(
            ApiToken(user_id=user_id, token_hash=_digest(token), label=label, prefix=token[:PREFIX], expires_at=expires)
        )
        record_event(s, "token.created", "user", user_id, by, {"label": label, "days": days})
    return token


def ensure_bootstrap_token(store: Store, token: str) -> None:
    """Make sure an admin API token with exactly this value exists (ONEMAP_BOOTSTRAP_TOKEN)."""
    if len(token) < 16:
        raise Invalid("error.bootstrap_token_short", field="ONEMAP_BOOTSTRAP_TOKEN")
    with store.read() as s:
        if s.scalar(select(ApiToken.id).where(ApiToken.token_hash == _digest(token))) is not None:
            return  # the usual start: no write
    # Then one write transaction: processes starting at once on one database take turns (SQLite's
    # writers queue; PostgreSQL's wait on the lock), so one creates the admin and the token, the others
    # find them.
    with store.transaction() as s:
        if store.kind == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOTSTRAP_LOCK})
        if s.scalar(select(ApiToken.id).where(ApiToken.token_hash == _digest(token))) is not None:
            return
        admin_id = s.scalar(select(User.id).where(User.username == "admin"))
        if admin_id is None:
            admin_id = create_user(store, "admin", "admin", "管理员")
        create_token(store, admin_id, label="bootstrap", token=token)


def actor_for_token(store: Store, token: str | None) -> Actor:
    """The actor a bearer token stands for; ``Unauthorized`` when missing, unknown, revoked or expired.

    The token's last use is written at most once a minute, so a busy device costs one write a minute.
    """
    if not token:
        raise Unauthorized("error.token_missing")
    now = utcnow()
    with store.read() as s:
        row = s.execute(
            select(User.id, User.username, User.role, User.department_id, ApiToken.id.label("token_id"))
            .add_columns(ApiToken.expires_at, ApiToken.last_used_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        ).first()
    if row is None:
        raise Unauthorized("error.token_unknown")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("error.token_expired")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_STEP:
        with store.transaction() as s:
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == row.token_id)
                .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_STEP))
                .values(last_used_at=now)
            )
    return Actor(user_id=row.id, name=row.username, role=row.role, department_id=row.department_id)


def find_token(store: Store, given: str) -> int:
    """The id of the token named by its id, its prefix (as ``manage.py tokens`` shows it) or its value."""
    with store.read() as s:
        found: list[int] = []
        if given.isascii() and given.isdigit() and len(given) < 19:
            found = list(s.scalars(select(ApiToken.id).where(ApiToken.id == int(given))))
        if not found and len(given) > PREFIX:
            found = list(s.scalars(select(ApiToken.id).where(ApiToken.token_hash == _digest(given))))
        elif not found and len(given) >= 3:
            found = list(s.scalars(select(ApiToken.id).where(ApiToken.prefix.startswith(given, autoescape=True))))
    if not found:
        raise Invalid("error.token_no_such", field="token")
    if len(found) > 1:
        raise Invalid("error.token_ambiguous", {"given": given, "count": len(found)}, field="token")
    return found[0]


def revoke_token(store: Store, token: str, by: str = SYSTEM.name) -> int:
    """Revoke a token named by its id, prefix or value; later requests with it get 401. Returns its id;
    ``by`` as above."""
    token_id = find_token(store, token)
    with store.transaction() as s:
        row = s.get(ApiToken, token_id)
        row.revoked_at = row.revoked_at or utcnow()
        record_event(s, "token.revoked", "user", row.user_id, by, {"token_id": token_id})
    return token_id


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token with its owner, prefix, label and times (never its value)."""
    with store.read() as s:
        rows = s.execute(
            select(
                ApiToken.id,
                User.username,
                ApiToken.prefix,
                ApiToken.label,
                ApiToken.created_at,
                ApiToken.expires_at,
                ApiToken.last_used_at,
                ApiToken.revoked_at,
            )
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def check_password(store: Store, username: str, password: str) -> Actor:
    """The actor for a username and password; ``Unauthorized`` with one message for every failure."""
    with store.read() as s:
        user = s.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None else None
    matches = check_password_hash(stored or _DUMMY_HASH, password)
    if user is None or not stored or not matches:
        raise Unauthorized("error.login_wrong")
    return Actor(user_id=user.id, name=user.username, role=user.role, department_id=user.department_id)


def actor_for_user(store: Store, user_id: int | None) -> Actor | None:
    """The actor behind a session's user id (None when absent or deleted)."""
    if user_id is None:
        return None
    with store.read() as s:
        user = s.get(User, user_id)
    if user is None:
        return None
    return Actor(user_id=user.id, name=user.username, role=user.role, department_id=user.department_id)


def shared_secret(store: Store, name: str = "session_key") -> str:
    """A random secret stored once in the database, so every app process signs sessions alike."""
    return store.setting(name, lambda: secrets.token_hex(32))
