"""The server behind ``make run``: ``chalice local``'s gateway, with every method answered.

``chalice local`` (Python's ``http.server``) only knows the methods Chalice can route; anything
else (``TRACE``, ``CONNECT``, made-up verbs) gets ``http.server``'s HTML 501 page. API Gateway
never answers that way, and the API promises JSON for every answer, so this server gives those
methods the same JSON 405 as the app's own handler. Everything else is Chalice's: the same
``LocalGateway`` turns HTTP into API Gateway proxy events, percent-encoded path and all.

Run as ``python -m ops.local.server --port N`` (``ops run`` starts it); it serves until Ctrl-C.
"""

import argparse
import json
import sys
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
    args = parser.parse_args(argv)
    server = build_server(args.port, args.stage)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
