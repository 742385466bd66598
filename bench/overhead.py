"""``python -m bench.overhead``: what each handler costs per request with no database at all.

The warm-path benchmark measures handlers between real socket waits. This one hands each
handler a fake connection that answers at once, and times 2,000 requests in a tight loop (best
of 7), so what is left is the Python each one runs per request: Chalice's own dispatch
(``chalice_bare``), the API's code on top of it (``chalice``), and the Flask peer. Numbers from a
tight loop are lower than between socket waits (warm caches), so compare them with each other,
not with the warm-path table. docs/performance.md quotes them.
"""

import sys
import time

from bench import contenders
from chalicelib.settings import DbSettings
from tests.support.events import LambdaContext, pet_event


class _Cursor:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args):
        self._name = args[0]

    def fetchone(self):
        return (self._name, "Ana", "cat")


class FakeConnection:
    """Answers every lookup at once with a pet of the name asked for."""

    def cursor(self):
        return _Cursor()

    def close(self):
        pass


def per_request_us(handler, events, context, repeats=7):
    for event in events[:500]:
        handler(event, context)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter_ns()
        for event in events:
            handler(event, context)
        best = min(best, (time.perf_counter_ns() - started) / len(events) / 1000)
    return best


def main():
    from apig_wsgi import make_lambda_handler  # noqa: PLC0415 -- as in contenders

    import app as lambda_module  # noqa: PLC0415 -- it reconfigures logging: silenced below
    from bench import flask_peer  # noqa: PLC0415 -- idem

    settings = DbSettings()
    connect = FakeConnection
    handlers = {
        "chalice": lambda_module.create_app(settings=settings, connect=connect),
        "flask": make_lambda_handler(flask_peer.create_app(settings=settings, connect=connect)),
        "chalice_bare": contenders.bare_chalice_app(connect()),
    }
    contenders.silence_logs()
    events = [pet_event(f"Zoë {i:07d}") for i in range(2000)]
    context = LambdaContext()
    for name, handler in handlers.items():
        print(f"{name:14s} {per_request_us(handler, events, context):6.1f} µs per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
