"""The one exception every ops command raises for an expected failure.

The CLI prints its message as a single line and exits with ``exit_code``; anything else that
escapes a command is a bug, and the CLI still prints one line (the type and message) unless
``OPS_DEBUG=1`` asks for the traceback.
"""


class OpsError(Exception):
    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code
