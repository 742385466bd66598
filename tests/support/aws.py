"""AWS for tests: the one context factory, sessions of chosen clients, a client split between
moto and a botocore Stubber, moto stacks with chosen outputs, and moto_server.

Why the split client: moto implements SendCommand and GetCommandInvocation but not
ListCommandInvocations, DescribeInstanceInformation or DescribeInstancePatchStates. One SSM
client cannot be half moto and half Stubber (a Stubber answers every call of its client), so a
test holds two real botocore clients and ``SplitClient`` routes each operation to one of them.
Nothing is patched: the command under test receives these through its ``Context``.
"""

import contextlib
import functools
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.stub import Stubber

from ops.context import Context
from ops.local.ports import reachable
from ops.local.processes import terminate
from tests.support.clock import FakeClock
from tests.support.tcpproxy import free_port

REGION = "us-east-1"


class Session:
    """A stand-in for ``boto3.session.Session`` whose clients the test chose.

    With ``rest`` (a real session: moto inside ``mock_aws``), other services come from it;
    without, asking for another service is a test error.
    """

    def __init__(self, clients, rest=None):
        self._clients = clients
        self._rest = rest

    def client(self, name, **config):
        if name not in self._clients and self._rest is not None:
            return self._rest.client(name, **config)
        # Context passes retry and region settings; the test's clients are already configured.
        return self._clients[name]


class SplitClient:
    """Send ``operations`` (snake_case names) to ``stubbed``, everything else to ``default``."""

    def __init__(self, default, stubbed, operations):
        self._default = default
        self._stubbed = stubbed
        self._operations = set(operations)

    def get_paginator(self, operation):
        target = self._stubbed if operation in self._operations else self._default
        return target.get_paginator(operation)

    def __getattr__(self, name):
        target = self._stubbed if name in self._operations else self._default
        return getattr(target, name)


class Refusing:
    """``client`` but ``operation`` answers AccessDenied when ``refused(**params)`` says so, as
    IAM does for a role that may not make that request (moto enforces no policy here)."""

    def __init__(self, client, operation, refused, code="AccessDeniedException"):
        self._client, self._operation, self._refused, self._code = client, operation, refused, code

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if name != self._operation:
            return method

        def call(**params):
            if self._refused(**params):
                from botocore.exceptions import ClientError  # noqa: PLC0415 -- only when refusing

                error = {"Error": {"Code": self._code, "Message": "not authorized"}}
                raise ClientError(error, self._operation)
            return method(**params)

        return call


def stubbed_client(service):
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


def lambda_account(total, unreserved):
    """A Lambda client answering GetAccountSettings once with these limits (moto lacks it)."""
    client, stub = stubbed_client("lambda")
    stub.add_response(
        "get_account_settings",
        {
            "AccountLimit": {
                "ConcurrentExecutions": total,
                "UnreservedConcurrentExecutions": unreserved,
            }
        },
        {},
    )
    stub.activate()
    return client, stub


def make_context(
    clients=None, *, env=None, clock=None, fetch=None, rest_from_boto3=False, git=None
):
    """A Context for one test: output in ``ctx.out``/``ctx.err`` (StringIO), ``ctx.env`` only
    what the test gives, time from ``clock`` (a ``tests.support.clock.FakeClock``, a new one if
    none): ``ctx.clock``, ``ctx.wall`` and ``ctx.sleep``, the sleeps also in ``ctx.sleeps``.

    AWS comes from ``clients`` (``{service: client}``: moto or Stubber-wrapped), else from boto3,
    which is moto inside ``mock_aws``; ``rest_from_boto3`` takes the services ``clients`` does
    not name from boto3 too. ``fetch`` stands in for HTTP (``ops.http.get``), ``git`` for the
    repository (``tests.support.gitrepo.git_in``; default: this checkout).
    """
    clock = clock or FakeClock()
    extra = {"fetch": fetch} if fetch else {}
    if git:
        extra["git"] = git
    if clients:
        rest = boto3.session.Session() if rest_from_boto3 else None
        session_factory = functools.partial(Session, clients, rest)
    else:
        session_factory = boto3.session.Session
    ctx = Context(
        out=io.StringIO(),
        err=io.StringIO(),
        env=dict(env or {}),
        sleep=clock.sleep,
        clock=clock.monotonic,
        wall=clock.wall,
        session_factory=session_factory,
        **extra,
    )
    ctx.sleeps = clock.sleeps
    return ctx


def create_stack(name, outputs, cloudformation=None):
    """A moto stack whose outputs are ``outputs`` (a dict of fixed strings).

    moto's CloudFormation cannot create the real resources (RDS clusters, patch baselines), so
    the stack holds one SSM parameter, which moto supports, and only its outputs matter.
    ``cloudformation`` is the client (default: boto3's, moto inside ``mock_aws``).
    """
    cloudformation = cloudformation or boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName=name, TemplateBody=_outputs_template(name, outputs))


def bootstrap_stage(bucket, stage="dev", *, s3=None, cloudformation=None):
    """What ``ops bootstrap`` leaves that a deploy reads: the artifacts bucket, and the stage's
    bootstrap stack whose ``ArtifactsBucket`` output names it. Clients default to boto3's."""
    (s3 or boto3.client("s3", region_name=REGION)).create_bucket(Bucket=bucket)
    create_stack(f"pets-bootstrap-{stage}", {"ArtifactsBucket": bucket}, cloudformation)


def update_stack_outputs(name, outputs):
    """Give the moto stack ``name`` these outputs instead (as a stack update would)."""
    boto3.client("cloudformation", region_name=REGION).update_stack(
        StackName=name, TemplateBody=_outputs_template(name, outputs)
    )


def _outputs_template(name, outputs):
    template = {
        "Resources": {
            "Placeholder": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": f"/{name}/placeholder",
                    "Type": "String",
                    "Value": "placeholder",
                },
            }
        },
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    return json.dumps(template)


@contextlib.contextmanager
def moto_server():
    """A real ``moto_server`` process on a free 127.0.0.1 port; yields its URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not reachable("127.0.0.1", port, timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(process, timeout=10)
