"""The pet lookup API: routes only. Data access lives in ``chalicelib``.

``GET /api/pet/{name}`` answers 200 with ``{"name", "owner", "species"}``, 404 for an unknown
name, 400 for a name no pet can have, 405 for any other method and 503 (with ``Retry-After``)
when the database cannot answer. Every answer is JSON, and none carries internals.

``create_app`` builds an independent app with its own lazily opened connection, so tests and
benchmarks can run several "warm containers" in one process; ``app`` is the one Lambda runs.
"""

import logging
import os
import time

from chalice import Chalice, Response

from chalicelib import credentials, logs
from chalicelib.db import Database, Unavailable, connector
from chalicelib.names import InvalidName, decode_path_name
from chalicelib.pets import find_pet
from chalicelib.settings import DbSettings, SettingsError

PET_ROUTE = "/api/pet/{name}"
# API Gateway answers an undeclared method with 403; declaring the rest here makes them 405.
OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ANY_CONTENT_TYPE = ["*/*"]

log = logging.getLogger("pets.api")
_REQUEST_MESSAGE = f"GET {PET_ROUTE}"


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
            holder["db"] = Database(connect or connector(resolved))
        return holder["db"]

    app.get_db = get_db

    # content_types: Chalice answers 415 to any request whose Content-Type is not listed, GET
    # included; this API reads no body, so every type is accepted and the status stays honest.
    @app.route(PET_ROUTE, methods=["GET"], content_types=ANY_CONTENT_TYPE)
    def get_pet(name):
        started = time.perf_counter()
        try:
            pet = find_pet(get_db(), decode_path_name(name))
        except InvalidName as exc:
            response = _error(400, "BadRequest", str(exc))
        except Unavailable as exc:
            log.warning("database unavailable", extra={"fields": {"reason": str(exc)}})
            retry_after = str((holder.get("settings") or DbSettings()).retry_after)
            response = _error(
                503,
                "ServiceUnavailable",
                "The pet database is not available right now; try again shortly.",
                {"Retry-After": retry_after},
            )
        else:
            if pet is None:
                response = _error(404, "NotFound", "No pet has that name.")
            else:
                response = _json(200, pet)
        _log_request(app, response.status_code, started)
        return response

    @app.route(PET_ROUTE, methods=OTHER_METHODS, content_types=ANY_CONTENT_TYPE)
    def pet_method_not_allowed(name):
        return _error(405, "MethodNotAllowed", "Only GET is supported.", {"Allow": "GET"})

    return app


def _json(status, body, headers=None):
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status, code, message, headers=None):
    return _json(status, {"code": code, "message": message}, headers)


def _log_request(app, status, started):
    request = app.current_request
    context = (request.context or {}) if request is not None else {}
    fields = {
        "request_id": context.get("requestId"),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    logs.request_line(log, _REQUEST_MESSAGE, fields)


logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
# In Lambda with DB_AUTH=iam: load the signer during init, so a SnapStart snapshot holds it.
credentials.prepare(os.environ)
app = create_app()
