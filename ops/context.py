"""What a command may use to touch the world: output streams, environment, clock, HTTP, git, AWS.

The CLI builds the default ``Context()``. Tests build their own, handing in a boto3 session
backed by moto, clients wrapped in a botocore Stubber, a fake sleep and clock, a StringIO, an
HTTP ``fetch`` and a ``git`` runner of their own, so no test needs ``mock.patch``.
"""

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from ops import git, http

# Every AWS call: seconds to open a connection, and to wait for each answer. With botocore's
# standard retries (3 attempts unless AWS_MAX_ATTEMPTS says otherwise) an endpoint that accepts
# and never answers fails within 3 x 15 s plus backoff, under a minute, instead of botocore's
# default 60 s per read (over two minutes in silence). No ops call waits on a slow answer: long
# operations are polled.
AWS_CONNECT_TIMEOUT = 5
AWS_READ_TIMEOUT = 15


@dataclass
class Context:
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # durations
    wall: Callable[[], float] = time.time  # dates: seconds since the epoch
    session_factory: Callable[..., Any] | None = None
    # A named AWS profile for this context's clients (ops bootstrap: one account per stage).
    profile: str | None = None
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
        Connections and answers are bounded (``AWS_CONNECT_TIMEOUT``, ``AWS_READ_TIMEOUT``), and
        each attempt that times out is reported on stderr before the next one starts.
        """
        if service not in self._clients:
            from botocore.config import Config  # noqa: PLC0415 -- deferred like boto3 below

            mode = self.env.get("AWS_RETRY_MODE", "standard")
            config = Config(
                retries={"mode": mode},
                connect_timeout=AWS_CONNECT_TIMEOUT,
                read_timeout=AWS_READ_TIMEOUT,
            )
            # botocore reads only AWS_DEFAULT_REGION; the AWS CLI v2 prefers AWS_REGION.
            region = self.env.get("AWS_REGION") or None
            client = self.session().client(service, config=config, region_name=region)
            meta = getattr(client, "meta", None)
            if meta is not None:  # a test's stand-in client may have none
                # botocore's own default when neither AWS_MAX_ATTEMPTS nor a profile sets one.
                limit = (meta.config.retries or {}).get("total_max_attempts", 3)
                meta.events.register("needs-retry", functools.partial(self._timed_out, limit))
            self._clients[service] = client
        return self._clients[service]

    def _timed_out(self, limit, caught_exception=None, attempts=None, operation=None, **_):
        # Called by botocore after every attempt; only one that timed out is worth a line.
        # Returning None leaves the decision to retry to botocore's own handler.
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError  # noqa: PLC0415

        if isinstance(caught_exception, ReadTimeoutError):
            what = f"no answer within {AWS_READ_TIMEOUT} s"
        elif isinstance(caught_exception, ConnectTimeoutError):
            what = f"no connection within {AWS_CONNECT_TIMEOUT} s"
        else:
            return
        name = getattr(operation, "name", "an AWS call")
        self.warn(f"ops: {name}: {what} (attempt {attempts} of {limit})")

    def session(self):
        if self.session_factory is None:
            import boto3  # noqa: PLC0415 -- deferred so local-only commands (migrate, run) start fast

            self.session_factory = boto3.session.Session
        if not hasattr(self, "_session"):
            named = {"profile_name": self.profile} if self.profile else {}
            self._session = self.session_factory(**named)
        return self._session

    def for_profile(self, profile):
        """The same context with AWS clients of the named profile (``None``: the default chain)."""
        if profile == self.profile:
            return self
        return dataclasses.replace(self, profile=profile, _clients={})

    def say(self, message=""):
        print(message, file=self.out, flush=True)

    def warn(self, message):
        print(message, file=self.err, flush=True)
