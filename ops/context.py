"""What a command may use to touch the world: output streams, environment, clock, AWS clients.

``Context.from_environment`` is what the CLI builds. Tests build their own, handing in a boto3
session backed by moto, clients wrapped in a botocore Stubber, a fake sleep and a StringIO.
"""

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Context:
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session_factory: Callable[[], Any] | None = None
    _clients: dict = field(default_factory=dict, repr=False)

    def client(self, service):
        """A boto3 client for ``service``, made once per context.

        boto3 itself honours AWS_PROFILE, AWS_REGION/AWS_DEFAULT_REGION and AWS_ENDPOINT_URL
        (and AWS_ENDPOINT_URL_<SERVICE>) exactly as the AWS CLI does.
        """
        if service not in self._clients:
            self._clients[service] = self.session().client(service)
        return self._clients[service]

    def session(self):
        if self.session_factory is None:
            import boto3  # noqa: PLC0415 -- deferred so local-only commands (migrate, run) start fast

            self.session_factory = boto3.session.Session
        if not hasattr(self, "_session"):
            self._session = self.session_factory()
        return self._session

    def say(self, message=""):
        print(message, file=self.out, flush=True)

    def warn(self, message):
        print(message, file=self.err, flush=True)
