"""`Idempotency-Key`: the first answer to a (user, key) is stored and replayed; the same key with
a different request is refused with 422. The key is claimed before the work, so two concurrent
retries cannot both run it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from data.models import IdempotencyKey
from data.store import Store
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


def run_once(
    store: Store, actor: Actor, key: str, fingerprint: str, work: Callable[[], tuple[Any, int]]
) -> tuple[Any, int]:
    """Run ``work`` once per (user, key) and store its (JSON body, status); a repeat replays that answer.

    A rule violation is an answer too (stored and replayed); the same key with another ``fingerprint``
    raises ``Invalid``, a repeat while the first run is still going raises ``Conflict``, and an
    unexpected error frees the key so a retry runs again.
    """
    if not key.strip() or len(key) > MAX_KEY:
        raise Invalid("error.idempotency_key_length", {"max": MAX_KEY}, field="Idempotency-Key")
    try:
        with store.transaction() as s:
            s.add(IdempotencyKey(user_id=actor.user_id, key=key, request_hash=fingerprint))
    except IntegrityError:
        with store.read() as s:
            seen = s.execute(
                select(IdempotencyKey).where(IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key)
            ).scalar_one()
        if seen.request_hash != fingerprint:
            raise Invalid("error.idempotency_key_reused", field="Idempotency-Key") from None
        if seen.status_code is None:
            raise Conflict("error.idempotency_key_running") from None
        return seen.response, seen.status_code
    try:
        body, status = work()
    except OneMapError as exc:
        body, status = exc.to_dict(), exc.status
    except Exception:
        with store.transaction() as s:  # let a retry run again after a server error
            s.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key))
        raise
    with store.transaction() as s:
        s.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key)
            .values(status_code=status, response=body)
        )
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
