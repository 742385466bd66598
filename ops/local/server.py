"""The server behind ``make run``: ``chalice local``'s gateway, with every method answered.

``chalice local`` (Python's ``http.server``) only knows the methods Chalice can route; anything
else (``TRACE``, ``CONNECT``, made-up verbs) gets ``http.server``'s HTML 501 page. API Gateway
never answers that way, and the API promises JSON for every answer, so this server gives those
methods the same JSON 405 as the app's own handler. Everything else is Chalice's: the same
``LocalGateway`` turns HTTP into API Gateway proxy events, percent-encoded path and all.

Run as ``python -m ops.local.server --port N`` (``ops run`` starts it); it serves until Ctrl-C.
``ops run`` also passes ``--ready-fd`` and ``--exit-with-stdin`` (see ops/local/processes.py).
"""

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, LocalDevServer

APP_DIR = Path(__file__).resolve().parents[2] / "chalice_app"


class Handler(ChaliceRequestHandler):
    def _method_not_allowed(self):
        body = json.dumps({"code": "MethodNotAllowed", "message": "Only GET is supported."})
        self._send_http_response(405, {"Allow": "GET", "Content-Type": "application/json"}, body)

    def __getattr__(self, name):
        # http.server dispatches to do_<METHOD>; any method Chalice does not route lands here.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)


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
    try:
        server.serve_forever()
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
