"""Browser sessions kept in the store, so the server can end them: logout, an idle timeout, a lifetime.

The cookie carries a random token; the store keeps only its SHA-256 digest. Reading a session is one
primary-key read joined to its user; its last-seen time is written at most once a ``touch`` period,
so a screen polling every second costs one write a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from data.models import User, WebSession, utcnow
from data.store import Store
from ops.accounts import Actor


@dataclass(frozen=True)
class SessionRules:
    """How long a session lives without a request (``idle``) and at most (``lifetime``)."""

    idle: timedelta
    lifetime: timedelta
    touch: timedelta = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, user_id: int, rules: SessionRules) -> str:
    """Start a session for a user; return the token for the cookie. Sessions past their lifetime go."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.created_at < now - rules.lifetime))
        s.add(WebSession(id=_digest(token), user_id=user_id, created_at=now, last_seen_at=now))
    return token


def session_actor(store: Store, token: str, rules: SessionRules, now: datetime | None = None) -> Actor | None:
    """The actor of a live session (None when unknown, ended, idle too long or past its lifetime)."""
    now = now or utcnow()
    digest = _digest(token)
    with store.read() as s:
        row = s.execute(
            select(
                WebSession.created_at, WebSession.last_seen_at, User.id, User.username, User.role, User.department_id
            )
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == digest)
        ).first()
    if row is None:
        return None
    if now - row.created_at > rules.lifetime or now - row.last_seen_at > rules.idle:
        end_session(store, token)
        return None
    if now - row.last_seen_at > rules.touch:
        with store.transaction() as s:
            s.execute(update(WebSession).where(WebSession.id == digest).values(last_seen_at=now))
    return Actor(user_id=row.id, name=row.username, role=row.role, department_id=row.department_id)


def end_session(store: Store, token: str) -> None:
    """End a session at once: a copy of its cookie stops working."""
    with store.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.id == _digest(token)))
