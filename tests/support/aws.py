"""Test doubles for ops commands that talk to AWS: a fake clock, a session of chosen clients,
and a client that sends some operations to a botocore Stubber and the rest to moto.

Why the split client: moto implements SendCommand and GetCommandInvocation but not
ListCommandInvocations, DescribeInstanceInformation or DescribeInstancePatchStates. One SSM
client cannot be half moto and half Stubber (a Stubber answers every call of its client), so a
test holds two real botocore clients and ``SplitClient`` routes each operation to one of them.
Nothing is patched: the command under test receives these through its ``Context``.
"""

import io
import json

import boto3
from botocore.stub import Stubber

from ops.context import Context

REGION = "us-east-1"


class FakeClock:
    """``sleep`` advances ``now`` instead of sleeping; ``sleeps`` records every call."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Session:
    """A stand-in for ``boto3.session.Session`` whose clients the test chose."""

    def __init__(self, clients):
        self._clients = clients

    def client(self, name, **_config):
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


def stubbed_client(service):
    client = boto3.client(service, region_name=REGION)
    return client, Stubber(client)


def make_context(clients, clock=None, env=None):
    clock = clock or FakeClock()
    return Context(
        out=io.StringIO(),
        err=io.StringIO(),
        env=dict(env or {}),
        sleep=clock.sleep,
        clock=clock.clock,
        session_factory=lambda: Session(clients),
    )


def create_stack(name, outputs):
    """A moto stack whose outputs are ``outputs`` (a dict of fixed strings).

    moto's CloudFormation cannot create the real resources (RDS clusters, patch baselines), so
    the stack holds one SSM parameter, which moto supports, and only its outputs matter.
    """
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
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )
