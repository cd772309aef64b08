"""What every response and request goes through: security headers with a Content-Security-Policy,
the reverse proxies to believe, and the refusal of cross-site writes made with the session cookie."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Request, Response, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Open311 clients authenticate with their api_key in the body, never with the session cookie.
TOKEN_DOORS = ("/open311/",)


def content_security_policy(script_hashes: Iterable[str], tile_url: str | None = None) -> str:
    """The policy for every page: our own files only, plus Dash's inline scripts by hash and a tile server."""
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            tiles = f" {parts.scheme}://{parts.netloc}"
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        # Plotly, MapLibre and Mantine (emotion) write <style> elements and style attributes at run
        # time, which hashes cannot cover; styles cannot run code, scripts stay locked to the above.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:" + tiles,
        "font-src": "'self' data:",
        "connect-src": "'self'" + tiles,  # MapLibre fetches tiles from its workers
        "worker-src": "'self' blob:",  # MapLibre starts its workers from blob: URLs
        "object-src": "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
        "base-uri": "'self'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def install_headers(server: Flask, policy: str) -> None:
    """Send the policy and the other security headers on every response."""

    @server.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response


def trust_proxies(server: Flask, count: int) -> None:
    """Believe X-Forwarded-For/Proto/Host/Port from ``count`` proxies (0: none): HTTPS and the client
    address then reach the app as the browser sent them, so cookies get ``Secure`` behind TLS."""
    if count:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)  # type: ignore[method-assign]


def is_cross_site(req: Request) -> bool:
    """Whether the browser says this request comes from another site (Sec-Fetch-Site, else Origin or Referer)."""
    fetch_site = req.headers.get("Sec-Fetch-Site")
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    origin = req.headers.get("Origin")
    if origin is None:
        referer = urlsplit(req.headers.get("Referer", ""))
        if not referer.netloc:
            return False  # no browser said where it came from: a script or an old client, not a page
        origin = f"{referer.scheme}://{referer.netloc}"
    return origin != req.host_url.rstrip("/")


def install_cross_site_refusal(server: Flask) -> None:
    """Refuse cross-site writes that would ride on the session cookie (403 JSON); bearer-token calls pass."""

    @server.before_request
    def _refuse_cross_site() -> tuple[Response, int] | None:
        if request.method not in UNSAFE_METHODS or request.path.startswith(TOKEN_DOORS):
            return None
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        if is_cross_site(request):
            return jsonify({"error": "forbidden", "message": "cross-site request refused"}), 403
        return None
