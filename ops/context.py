"""What a command may use to touch the world: output streams, environment, clock, HTTP, git, AWS.

The CLI builds the default ``Context()``. Tests build their own, handing in a boto3 session
backed by moto, clients wrapped in a botocore Stubber, a fake sleep and clock, a StringIO, an
HTTP ``fetch`` and a ``git`` runner of their own, so no test needs ``mock.patch``.
"""

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from ops import git, http


@dataclass
class Context:
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session_factory: Callable[[], Any] | None = None
    # GET a URL: fetch(url, timeout=..., headers=...) -> ops.http.Response.
    fetch: Callable[..., http.Response] = http.get
    # Run git in the repository: git(*args) -> subprocess.CompletedProcess (ops.git).
    git: Callable[..., Any] = field(default_factory=git.runner)
    _clients: dict = field(default_factory=dict, repr=False)

    def client(self, service):
        """A boto3 client for ``service``, made once per context.

        boto3 itself honours AWS_PROFILE, AWS_REGION/AWS_DEFAULT_REGION and AWS_ENDPOINT_URL
        (and AWS_ENDPOINT_URL_<SERVICE>) exactly as the AWS CLI does. Retries use botocore's
        "standard" mode (the AWS CLI v2 default: throttling and transient errors retried with
        backoff, AWS_MAX_ATTEMPTS attempts, 3 by default) unless AWS_RETRY_MODE says otherwise.
        """
        if service not in self._clients:
            from botocore.config import Config  # noqa: PLC0415 -- deferred like boto3 below

            mode = self.env.get("AWS_RETRY_MODE", "standard")
            config = Config(retries={"mode": mode})
            # botocore reads only AWS_DEFAULT_REGION; the AWS CLI v2 prefers AWS_REGION.
            region = self.env.get("AWS_REGION") or None
            self._clients[service] = self.session().client(
                service, config=config, region_name=region
            )
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
