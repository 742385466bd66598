"""The three warm-path contenders, each a "warm container" holding one open connection.

* ``raw``: pymysql on an open connection running ``FIND_PET_SQL`` (chalicelib/pets.py): the floor.
* ``chalice``: the API's Chalice app, called as Lambda calls it: ``app(event, context)`` (Chalice's
  ``__call__``) with an API Gateway REST proxy event. The app is built by ``app.create_app``, the
  function that builds the ``app`` Lambda runs, so each table size gets its own warm container.
* ``flask``: the peer (``bench/flask_peer.py``) through apig-wsgi's Lambda handler.
* ``chalice_bare``: for reference only, the least a Chalice route can do: the same event, the
  raw query on an open connection, the row returned as a dict. No name check, no error
  handling, no log line, no reconnect. The gap between it and ``raw`` is Chalice's own cost,
  which no change to ``app.py`` can remove; the gap between it and ``chalice`` is the API's.

The handler modules are imported here, not at the top of the file, because importing them points
the root logger at stdout: ``silence_logs`` is called right after, and sends the log lines to
``os.devnull``, so that formatting and writing each line is still paid for, as it is in Lambda,
without flooding the terminal. Every answer is checked (outside the timed region) so a contender
that fails fast cannot win.
"""

import json
import os

from chalicelib import logs
from chalicelib.db import connector
from chalicelib.pets import FIND_PET_SQL
from tests.support.events import LambdaContext, pet_event


class Contender:
    """``prepare(name)`` builds a request outside the timed region; ``call`` is what is timed."""

    name = ""

    def prepare(self, pet_name):
        raise NotImplementedError

    def call(self, request):
        raise NotImplementedError

    def check(self, pet_name, answer):
        raise NotImplementedError

    def connections_opened(self):
        raise NotImplementedError


class Raw(Contender):
    name = "raw"

    def __init__(self, settings):
        # The same connection options as the API's own connector, so only the code around differs.
        self._conn = connector(settings)()

    def prepare(self, pet_name):
        return (pet_name, pet_name)

    def call(self, request):
        with self._conn.cursor() as cursor:
            cursor.execute(FIND_PET_SQL, request)
            return cursor.fetchone()

    def check(self, pet_name, answer):
        if answer is None or answer[0] != pet_name:
            raise AssertionError(f"raw lookup of {pet_name!r} returned {answer!r}")

    def connections_opened(self):
        return 1

    def close(self):
        self._conn.close()


class _LambdaHandler(Contender):
    def __init__(self, handler, database):
        self._handler = handler
        self._database = database
        self._context = LambdaContext()

    def prepare(self, pet_name):
        return pet_event(pet_name)

    def call(self, request):
        return self._handler(request, self._context)

    def check(self, pet_name, answer):
        if answer.get("statusCode") != 200:
            raise AssertionError(f"{self.name} answered {answer!r} for {pet_name!r}")
        body = json.loads(answer["body"])
        if body.get("name") != pet_name:
            raise AssertionError(f"{self.name} answered {body!r} for {pet_name!r}")

    def connections_opened(self):
        return self._database().connections_opened


def chalice_contender(settings):
    import app as lambda_module  # noqa: PLC0415 -- it reconfigures logging: see the docstring

    chalice_app = lambda_module.create_app(settings=settings)
    contender = _LambdaHandler(chalice_app, chalice_app.get_db)
    contender.name = "chalice"
    return contender


def flask_contender(settings):
    from apig_wsgi import make_lambda_handler  # noqa: PLC0415 -- with the peer, below

    from bench import flask_peer  # noqa: PLC0415 -- it reconfigures logging: see the docstring

    flask_app = flask_peer.create_app(settings=settings)
    contender = _LambdaHandler(make_lambda_handler(flask_app), flask_app.get_db)
    contender.name = "flask"
    return contender


def bare_chalice_app(conn):
    """The least a Chalice route can do: the raw query on ``conn``, the row as a dict."""
    from urllib.parse import unquote  # noqa: PLC0415 -- with the app below

    from chalice import Chalice  # noqa: PLC0415 -- the framework, for this reference only

    bare = Chalice(app_name="bare")
    bare.api.binary_types = []  # as app.py: JSON only

    @bare.route("/api/pet/{name}", methods=["GET"])
    def get_pet(name):
        name = unquote(name)
        with conn.cursor() as cursor:
            cursor.execute(FIND_PET_SQL, (name, name))
            row = cursor.fetchone()
        return {"name": row[0], "owner": row[1], "species": row[2]}

    return bare


def chalice_bare_contender(settings):
    contender = _LambdaHandler(bare_chalice_app(connector(settings)()), None)
    contender.name = "chalice_bare"
    contender.connections_opened = lambda: 1
    return contender


def silence_logs(level="INFO"):
    """Send the handlers' JSON log lines to os.devnull: still formatted and written, not shown."""
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 -- lives as long as the process
    logs.configure(level, stream=sink)
    return sink
