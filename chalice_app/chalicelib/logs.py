"""JSON log lines, one object per line, with the request id when there is one.

Lambda sends stdout/stderr to CloudWatch Logs, where one JSON object per line can be queried
with Logs Insights. Nothing here logs a password, a token or a connection string: callers
pass only names, status codes and timings.
"""

import json
import logging
import sys


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
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level="INFO", stream=None):
    """Route the root logger through one JSON handler (Lambda's own handler is replaced)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
