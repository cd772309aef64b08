"""`Idempotency-Key`: the first answer to a (user, key) is stored and replayed; the same key with
a different request is refused with 422.

The claim, the work and the stored answer are one transaction: a process killed (or a database lost)
mid-request commits none of them, so a retry runs the work once; a retry after the commit replays the
answer. On PostgreSQL a concurrent retry waits on the key's unique index until the first run ends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from data.models import IdempotencyKey
from data.store import Store, retried
from ops.accounts import Actor
from ops.errors import Conflict, Invalid, OneMapError

MAX_KEY = 200


def request_fingerprint() -> str:
    """A digest of what was asked: method, path, query and body (form fields and file bytes)."""
    h = hashlib.sha256(f"{request.method} {request.path}?{request.query_string.decode()}".encode())
    if request.mimetype == "multipart/form-data":
        for key, value in sorted(request.form.items(multi=True)):
            h.update(f"{key}={value}".encode())
        for key, upload in sorted(request.files.items(multi=True)):
            h.update(key.encode() + hashlib.sha256(upload.read()).digest())
            upload.seek(0)
    else:
        h.update(request.get_data(cache=True))
    return h.hexdigest()


@retried
def run_once(
    store: Store, actor: Actor, key: str, fingerprint: str, work: Callable[[], tuple[Any, int]]
) -> tuple[Any, int]:
    """Run ``work`` once per (user, key) and store its (JSON body, status); a repeat replays that answer.

    A rule violation is an answer too (stored and replayed, its writes undone); the same key with
    another ``fingerprint`` raises ``Invalid``; an unexpected error commits nothing, so a retry runs again.
    """
    if not key.strip() or len(key) > MAX_KEY:
        raise Invalid("error.idempotency_key_length", {"max": MAX_KEY}, field="Idempotency-Key")
    mine = (IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key)
    with store.transaction() as s:
        try:
            with store.transaction():
                s.add(IdempotencyKey(user_id=actor.user_id, key=key, request_hash=fingerprint))
        except IntegrityError:
            seen = s.execute(select(IdempotencyKey).where(*mine)).scalar_one()
            if seen.request_hash != fingerprint:
                raise Invalid("error.idempotency_key_reused", field="Idempotency-Key") from None
            if seen.status_code is None:  # a claim stored by an older version: its outcome is unknown
                raise Conflict("error.idempotency_key_running") from None
            return seen.response, seen.status_code
        try:
            with store.transaction():
                body, status = work()
        except OneMapError as exc:
            body, status = exc.to_dict(), exc.status
        s.execute(update(IdempotencyKey).where(*mine).values(status_code=status, response=body))
    return body, status


def idempotent(store: Store) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view that takes the actor first; replay stored answers for repeated keys."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(actor: Actor, *args: Any, **kwargs: Any) -> Any:
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return view(actor, *args, **kwargs)

            def work() -> tuple[Any, int]:
                response = view(actor, *args, **kwargs)
                body, status = response if isinstance(response, tuple) else (response, 200)
                body = body if isinstance(body, Response) else jsonify(body)
                return json.loads(body.get_data()), status

            body, status = run_once(store, actor, key, request_fingerprint(), work)
            return jsonify(body), status

        return wrapper

    return decorate
