"""The pet lookup API: routes only. Data access lives in ``chalicelib``.

``GET /api/pet/{name}`` answers 200 with ``{"name", "owner", "species"}``, 404 for an unknown
name, 400 for a name no pet can have, 405 for any other method and 503 (with ``Retry-After``)
when the database cannot answer. Every answer is JSON, and none carries internals. ``HEAD``
answers exactly as ``GET`` would, status and headers, with no body (HTTP expects HEAD wherever GET
works).

Every answer says ``X-Content-Type-Options: nosniff`` and how long it may be cached: a lookup's
answer (the pet, or that no pet has the name) for a minute, so a changed pet is seen within one;
anything else (a bad name, a wrong method, an unavailable database) never (docs/openapi.yaml).
API Gateway's own answers (unknown paths, throttling) carry the same headers and JSON shape
through the gateway responses in cloudformation/api/merge.yaml.

``create_app`` builds an independent app with its own lazily opened connection, so tests and
benchmarks can run several "warm containers" in one process; ``app`` is the one Lambda runs.
"""

import logging
import os
import time

from chalice import Chalice, Response

from chalicelib import credentials, logs
from chalicelib.db import Database, Unavailable, database
from chalicelib.names import InvalidName, decode_path_name
from chalicelib.pets import find_pet
from chalicelib.settings import DbSettings, SettingsError

PET_ROUTE = "/api/pet/{name}"
READ_METHODS = ["GET", "HEAD"]
ALLOW = ", ".join(READ_METHODS)
# API Gateway answers an undeclared method with 403; declaring the rest here makes them 405.
OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ANY_CONTENT_TYPE = ["*/*"]
LOOKUP_CACHE = "max-age=60"
NO_STORE = "no-store"

log = logging.getLogger("pets.api")
_REQUEST_MESSAGES = {method: f"{method} {PET_ROUTE}" for method in READ_METHODS}


def create_app(settings=None, connect=None, env=None):
    """Return a Chalice app whose database connection is opened on its first request.

    ``settings`` default to ``DbSettings.from_env(env)``, read at the first request; ``env``
    defaults to ``os.environ``.
    """
    app = Chalice(app_name="pets-api")
    # Every answer is JSON. Chalice's default list of binary media types (images, octet-stream,
    # ...) would only make it compare content types against it on every request (~3 µs), and
    # make API Gateway base64 bodies this API never sends.
    app.api.binary_types = []
    holder = {}

    def get_db():
        if "db" not in holder:
            try:
                resolved = settings or DbSettings.from_env(env)
            except SettingsError as exc:
                # A deploy mistake, not a client's: 503 and a log line naming the variable.
                raise Unavailable(f"bad configuration: {exc}") from exc
            holder["settings"] = resolved
            holder["db"] = Database(connect) if connect else database(resolved)
        return holder["db"]

    app.get_db = get_db

    # content_types: Chalice answers 415 to any request whose Content-Type is not listed, GET
    # included; this API reads no body, so every type is accepted and the status stays honest.
    @app.route(PET_ROUTE, methods=READ_METHODS, content_types=ANY_CONTENT_TYPE)
    def get_pet(name):
        started = time.perf_counter()
        try:
            pet = find_pet(get_db(), decode_path_name(name))
        except InvalidName as exc:
            response = error_response(400, "BadRequest", str(exc))
        except Unavailable as exc:
            log.warning("database unavailable", extra={"fields": {"reason": str(exc)}})
            retry_after = str((holder.get("settings") or DbSettings()).retry_after)
            response = error_response(
                503,
                "ServiceUnavailable",
                "The pet database is not available right now; try again shortly.",
                {"Retry-After": retry_after},
            )
        else:
            if pet is None:
                response = error_response(
                    404, "NotFound", "No pet has that name.", cache=LOOKUP_CACHE
                )
            else:
                response = _json(200, pet, cache=LOOKUP_CACHE)
        method = app.current_request.method
        if method == "HEAD":
            response.body = ""
        _log_request(app, method, response.status_code, started)
        return response

    @app.route(PET_ROUTE, methods=OTHER_METHODS, content_types=ANY_CONTENT_TYPE)
    def pet_method_not_allowed(name):
        return error_response(
            405, "MethodNotAllowed", f"Only {ALLOW} are supported.", {"Allow": ALLOW}
        )

    return app


def _json(status, body, headers=None, cache=NO_STORE):
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": "application/json",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": cache,
            **(headers or {}),
        },
    )


def error_response(status, code, message, headers=None, cache=NO_STORE):
    """The API's error shape; ``ops.local.server`` answers its own 404s and 405s with it too."""
    return _json(status, {"code": code, "message": message}, headers, cache)


def _log_request(app, method, status, started):
    request = app.current_request
    context = (request.context or {}) if request is not None else {}
    fields = {
        "request_id": context.get("requestId"),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    logs.request_line(log, _REQUEST_MESSAGES[method], fields)


logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
# In Lambda with DB_AUTH=iam: load the signer during init, so a SnapStart snapshot holds it.
credentials.prepare(os.environ)
app = create_app()
