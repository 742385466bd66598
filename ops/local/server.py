"""The server behind ``make run``: ``chalice local``'s gateway, answering as API Gateway does.

``chalice local`` (Python's ``http.server``) differs from API Gateway in front of the API in
three ways, which this server corrects so that ``make run`` answers as a stage does:

* a path that matches no route (``/``, ``/nope``, ``/api/pet/Fluffy/extra``) and an empty name
  (``/api/pet/``, which API Gateway's router never matches to ``{name}``) get the 404 JSON that
  the gateway responses of cloudformation/api/merge.yaml give, instead of Chalice's 403;
* methods Chalice cannot route (``TRACE``, made-up verbs) get the app's JSON 405, instead of
  ``http.server``'s HTML 501 page;
* an answer to ``HEAD`` has no body (``chalice local`` would send one).

These answers carry the app's headers (``error_response`` in chalice_app/app.py). Everything else
is Chalice's: the same ``LocalGateway`` turns HTTP into API Gateway proxy events, percent-encoded
path and all.

Run as ``python -m ops.local.server --port N`` (``ops run`` starts it); it serves until Ctrl-C.
``ops run`` also passes ``--ready-fd`` and ``--exit-with-stdin`` (see ops/local/processes.py).
"""

import argparse
import os
import sys
import threading
from pathlib import Path

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, LocalDevServer

# The same module object Chalice serves (CLIFactory imports "app" from chalice_app/).
from app import ALLOW, error_response

APP_DIR = Path(__file__).resolve().parents[2] / "chalice_app"
NO_SUCH_PATH = "Nothing here: a pet is at /api/pet/{name}."


class Handler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config):
        # Set before the base class handles the request (it does so inside __init__).
        self._routes = [route.split("/") for route in app_object.routes]
        super().__init__(request, client_address, server, app_object=app_object, config=config)

    def _generic_handle(self):
        if not self._has_route():
            return self._answer_error(404, "NotFound", NO_SUCH_PATH)
        return super()._generic_handle()

    # The base class binds these names to its own _generic_handle; rebind them to this one.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _generic_handle

    def _method_not_allowed(self):
        if not self._has_route():
            return self._answer_error(404, "NotFound", NO_SUCH_PATH)
        return self._answer_error(
            405, "MethodNotAllowed", f"Only {ALLOW} are supported.", {"Allow": ALLOW}
        )

    def __getattr__(self, name):
        # http.server dispatches to do_<METHOD>; any method Chalice does not route lands here.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _has_route(self):
        parts = self.path.split("?", 1)[0].split("/")
        return any(
            len(parts) == len(route)
            and all(
                part != "" if pattern.startswith("{") else part == pattern
                for part, pattern in zip(parts, route, strict=True)
            )
            for route in self._routes
        )

    def _answer_error(self, status, code, message, headers=None):
        # Read (and drop) any request body, or it would be taken for the next request.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        response = error_response(status, code, message, headers).to_dict()
        self._send_http_response(status, dict(response["headers"]), response["body"])

    def _send_http_response_with_body(self, code, headers, body):
        if self.command != "HEAD":
            return super()._send_http_response_with_body(code, headers, body)
        # No body, and no Content-Length: HTTP allows one only if it equals GET's.
        headers.pop("Content-Length", None)
        self.send_response(code)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)
        return None


def build_server(port, stage="dev", host="127.0.0.1"):
    config = CLIFactory(str(APP_DIR)).create_config_obj(chalice_stage_name=stage)
    return LocalDevServer(config.chalice_app, config, host, port, handler_cls=Handler)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ops.local.server")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="dev")
    parser.add_argument(
        "--ready-fd", type=int, help="write 'ready' (or 'error <reason>') here once bound"
    )
    parser.add_argument(
        "--exit-with-stdin", action="store_true", help="stop when stdin closes (parent died)"
    )
    args = parser.parse_args(argv)
    try:
        server = build_server(args.port, args.stage)
    except OSError as exc:
        # Deferred: ports is tiny, but nothing else here needs it.
        from ops.local.ports import describe_listen_error  # noqa: PLC0415 -- see above

        reason = describe_listen_error("127.0.0.1", args.port, exc)
        _tell_parent(args.ready_fd, f"error {reason}")
        if args.ready_fd is None:
            print(f"ops.local.server: {reason}", file=sys.stderr)
        return 1
    if args.exit_with_stdin:
        threading.Thread(target=_exit_when_stdin_closes, args=(server,), daemon=True).start()
    _tell_parent(args.ready_fd, "ready")
    if args.ready_fd is None:
        print(f"Serving on http://127.0.0.1:{args.port}", flush=True)
    try:
        # Not LocalDevServer.serve_forever, which prints "Serving on": ops run prints the ready
        # line itself, after the readiness pipe says so, and the two would race.
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
    return 0


def _tell_parent(fd, line):
    if fd is not None:
        with os.fdopen(fd, "w") as pipe:
            pipe.write(line + "\n")


def _exit_when_stdin_closes(server):
    while sys.stdin.buffer.read(4096):
        pass  # nobody writes here; only end-of-file matters
    server.shutdown()  # serve_forever returns in the main thread


if __name__ == "__main__":
    sys.exit(main())
