"""JSON log lines, one object per line, with the request id when there is one.

Lambda sends stdout/stderr to CloudWatch Logs, where one JSON object per line can be queried
with Logs Insights. Nothing here logs a password, a token or a connection string: callers
pass only names, status codes and timings.

Two ways in, one format. Warnings and errors go through ``logging`` (root handler, JSON
formatter). The one line per request goes through ``request_line``, which writes the same JSON
shape straight to the same stream: the logging machinery (a ``LogRecord``, the handler lock,
the formatter) costs ~12 µs per call, a fifth of what the whole handler adds to the database
round trip (docs/performance.md). It honours the same levels, and flushes each line as the
handler does, so nothing is held back when Lambda freezes the container.
"""

import json
import logging
import sys

_stream = sys.stdout
# One encoder for every line: json.dumps with options builds a new JSONEncoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return _ENCODER.encode(entry)


def configure(level="INFO", stream=None):
    """Route the root logger through one JSON handler (Lambda's own handler is replaced)."""
    global _stream  # one log stream per process, as there is one root handler
    _stream = stream or sys.stdout
    handler = logging.StreamHandler(_stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def request_line(logger, message, fields):
    """Write one INFO line for ``logger`` with ``fields``, shaped as ``JsonFormatter`` shapes it."""
    if logger.isEnabledFor(logging.INFO):
        entry = {"level": "INFO", "logger": logger.name, "message": message}
        entry.update(fields)
        _stream.write(_ENCODER.encode(entry) + "\n")
        _stream.flush()
