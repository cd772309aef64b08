"""Users, roles and API tokens. Tokens are stored as SHA-256 digests, never in clear."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
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
    store: Store, user_id: int, label: str = "api", token: str | None = None, by: str = SYSTEM.name
) -> str:
    """Issue an API token for a user and return it in clear (the only time it is visible); ``by`` as above."""
    token = token or secrets.token_urlsafe(32)
    with store.transaction() as s:
        s.add(ApiToken(user_id=user_id, token_hash=_digest(token), label=label))
        record_event(s, "token.created", "user", user_id, by, {"label": label})
    return token


def ensure_bootstrap_token(store: Store, token: str) -> None:
    """Make sure an admin API token with exactly this value exists (ONEMAP_BOOTSTRAP_TOKEN)."""
    if len(token) < 16:
        raise Invalid("error.bootstrap_token_short", field="ONEMAP_BOOTSTRAP_TOKEN")
    with store.read() as s:
        if s.scalar(select(ApiToken.id).where(ApiToken.token_hash == _digest(token))) is not None:
            return
        admin_id = s.scalar(select(User.id).where(User.username == "admin"))
    if admin_id is None:
        admin_id = create_user(store, "admin", "admin", "管理员")
    create_token(store, admin_id, label="bootstrap", token=token)


def actor_for_token(store: Store, token: str | None) -> Actor:
    """The actor a bearer token stands for; ``Unauthorized`` when missing, unknown or revoked."""
    if not token:
        raise Unauthorized("error.token_missing")
    with store.read() as s:
        row = s.execute(
            select(User.id, User.username, User.role, User.department_id)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        ).first()
    if row is None:
        raise Unauthorized("error.token_unknown")
    return Actor(user_id=row.id, name=row.username, role=row.role, department_id=row.department_id)


def revoke_token(store: Store, token: str, by: str = SYSTEM.name) -> None:
    """Revoke a token; later requests with it get 401; ``by`` as above."""
    with store.transaction() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
        if row is None:
            raise Invalid("error.token_no_such", field="token")
        row.revoked_at = utcnow()
        record_event(s, "token.revoked", "user", row.user_id, by)


def check_password(store: Store, username: str, password: str) -> Actor:
    """The actor for a username and password; ``Unauthorized`` with one message for every failure."""
    with store.read() as s:
        user = s.scalar(select(User).where(User.username == username))
    if user is None or not user.password_hash or not check_password_hash(user.password_hash, password):
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
