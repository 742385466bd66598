"""Helpers for the ops tests: contexts over moto or Stubber, small templates, a moto_server.

moto's CloudFormation supports only some resource types (not AWS::RDS::DBCluster, SSM patch
baselines, the SAM transform ...), so the deploy logic is exercised with small templates of types
it does support: AWS::SQS::Queue, AWS::SNS::Topic, AWS::S3::Bucket.
"""

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3

from ops.context import Context
from ops.localdb import reachable
from tests.support.aws import Session
from tests.support.tcpproxy import free_port

__all__ = ["StubbedSession", "free_port"]  # free_port: re-exported for the ops tests

ROOT = Path(__file__).resolve().parents[2]

QUEUE_TEMPLATE = """\
Description: one queue, named by a parameter
Parameters:
  QueueName:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
Outputs:
  QueueUrl:
    Description: the queue's URL
    Value: !Ref Queue
  QueueArn:
    Description: the queue's ARN
    Value: !GetAtt Queue.Arn
"""

TOPIC_TEMPLATE = """\
Description: one topic, no parameters
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

TOPIC_AND_BUCKET_TEMPLATE = """\
Description: a topic and a bucket, no parameters
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Bucket:
    Type: AWS::S3::Bucket
"""


class Output:
    """A context's captured stdout and stderr."""

    def __init__(self):
        self.out = io.StringIO()
        self.err = io.StringIO()

    @property
    def stdout(self):
        return self.out.getvalue()

    @property
    def stderr(self):
        return self.err.getvalue()


def make_context(env=None, session_factory=boto3.session.Session):
    """A Context over boto3 (moto when inside mock_aws), with a sleep that only records."""
    output = Output()
    sleeps = []
    ctx = Context(
        out=output.out,
        err=output.err,
        env={**os.environ, **(env or {})},
        sleep=sleeps.append,
        session_factory=session_factory,
    )
    ctx.output, ctx.sleeps = output, sleeps
    return ctx


def StubbedSession(**clients):  # named like the session class it stands in for
    """A boto3-session stand-in handing out the given (Stubber-wrapped or moto) clients."""
    return Session(clients)


def write(tmp_path, name, text):
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


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
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_cli(*args, env=None, timeout=120):
    """``python -m ops ARGS`` as a subprocess from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "ops", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
