"""The peer: the same pet route as a Flask app behind a Lambda adapter (apig-wsgi).

This is the approach the earlier answer to the challenge took (Flask inside Lambda), done
properly so the comparison is about the framework and nothing else: the same data access
(``chalicelib``: one lazily opened connection per container, the same SQL), the same JSON bodies
and status codes for found, unknown and impossible names, and the same JSON log line per request
(written the same way, ``logs.request_line``).

apig-wsgi turns the API Gateway event into a WSGI environ (it percent-decodes the path itself),
Flask routes it, and the adapter turns the WSGI response back into the proxy response dict.
Like ``app.py`` this module is a Lambda handler module: ``handler`` is what Lambda would call.
"""

import logging
import os
import time

from apig_wsgi import make_lambda_handler
from flask import Flask, jsonify, request

from chalicelib import logs
from chalicelib.db import Database, Unavailable, database
from chalicelib.names import InvalidName, validate_name
from chalicelib.pets import find_pet
from chalicelib.settings import DbSettings

log = logging.getLogger("pets.flask")


def create_app(settings=None, connect=None):
    """Return a Flask app whose database connection is opened on its first request."""
    app = Flask("pets_flask")
    holder = {}

    def get_db():
        if "db" not in holder:
            resolved = settings or DbSettings.from_env()
            holder["settings"] = resolved
            holder["db"] = Database(connect) if connect else database(resolved)
        return holder["db"]

    app.get_db = get_db

    @app.get("/api/pet/<name>")
    def get_pet(name):
        started = time.perf_counter()
        try:
            validate_name(name)
            pet = find_pet(get_db(), name)
        except InvalidName as exc:
            response = _error(400, "BadRequest", str(exc))
        except Unavailable:
            response = _error(503, "ServiceUnavailable", "The pet database is not available.")
            response.headers["Retry-After"] = str(holder["settings"].retry_after)
        else:
            response = _error(404, "NotFound", "No pet has that name.") if pet is None else None
            response = response or jsonify(pet)
        context = request.environ.get("apig_wsgi.request_context") or {}
        fields = {
            "request_id": context.get("requestId"),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        logs.request_line(log, "GET /api/pet/{name}", fields)
        return response

    return app


def _error(status, code, message):
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    return response


logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
app = create_app()
handler = make_lambda_handler(app)
