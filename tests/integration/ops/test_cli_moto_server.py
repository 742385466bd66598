"""The real CLI, ``python -m ops ...`` as a subprocess, against a ``moto_server`` process.

This is the path CI takes: argument parsing, the Context the CLI builds, boto3 honouring
AWS_ENDPOINT_URL and AWS_REGION, exit codes and output streams. moto limits apply as in
test_stack_deploy.py (small SQS/SNS/S3 templates; no outputs for stacks made through change sets,
so the API stack is first made with CreateStack where an EndpointURL is needed).
"""

import json
import re

import boto3
import pytest

from tests.support.apistack import PEM, SAM_TEMPLATE, make_infra, make_package
from tests.support.aws import bootstrap_stage
from tests.support.cfn import QUEUE_TEMPLATE, TOPIC_AND_BUCKET_TEMPLATE, write
from tests.support.processes import run_cli


def client(service, moto_url):
    return boto3.client(service, region_name="us-east-1", endpoint_url=moto_url)


def test_stack_deploy_create_noop_update_preview(tmp_path, server_env, moto_url):
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    args = ["stack-deploy", "--stack-name", "cli", "--template-file", template]

    created = run_cli(*args, "--parameter-overrides", "QueueName=cli-q", env=server_env)
    assert created.returncode == 0, created.stderr
    assert "Change set CREATE for cli" in created.stdout
    assert "cli: CREATE_COMPLETE" in created.stdout
    assert created.stderr == ""

    same = run_cli(*args, "--parameter-overrides", "QueueName=cli-q", env=server_env)
    assert same.returncode == 0, same.stderr
    assert "no changes: cli already matches" in same.stdout

    updated = run_cli(*args, "--parameter-overrides", "QueueName=cli-q2", env=server_env)
    assert updated.returncode == 0, updated.stderr
    assert "cli: UPDATE_COMPLETE" in updated.stdout
    cf = client("cloudformation", moto_url)
    params = cf.describe_stacks(StackName="cli")["Stacks"][0]["Parameters"]
    assert params == [{"ParameterKey": "QueueName", "ParameterValue": "cli-q2"}]

    bigger = write(tmp_path, "more.yaml", TOPIC_AND_BUCKET_TEMPLATE)
    preview = run_cli(
        "stack-deploy",
        "--stack-name",
        "cli",
        "--template-file",
        bigger,
        "--no-execute-changeset",
        env=server_env,
    )
    assert preview.returncode == 0, preview.stderr
    assert "Add     Bucket" in preview.stdout
    assert "left for review (not executed)" in preview.stdout
    assert cf.describe_stacks(StackName="cli")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_step_summary_gets_the_markdown_table(tmp_path, server_env):
    template = write(tmp_path, "more.yaml", TOPIC_AND_BUCKET_TEMPLATE)
    env = {**server_env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    result = run_cli("stack-deploy", "--stack-name", "sum", "--template-file", template, env=env)
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "summary.md").read_text()
    assert "### Change set for `sum` (CREATE)" in markdown
    assert "| Add | `Bucket` | AWS::S3::Bucket | - |" in markdown


@pytest.fixture
def bootstrapped(server_env, moto_url):
    bootstrap_stage(
        "artifacts", s3=client("s3", moto_url), cloudformation=client("cloudformation", moto_url)
    )
    return server_env


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")
def test_deploy_api_then_plan_then_destroy(tmp_path, bootstrapped, moto_url):
    package = make_package(tmp_path)
    make_infra(tmp_path)
    cf = client("cloudformation", moto_url)
    cf.create_stack(
        StackName="pets-dev-api",
        TemplateBody=SAM_TEMPLATE,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(PEM)
    deployed = run_cli(
        "deploy-api",
        "--stage",
        "dev",
        "--package-dir",
        package,
        "--rds-ca-bundle",
        bundle,
        env=bootstrapped,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert re.search(
        r"uploaded the RDS CA bundle for us-east-1 \(\d+ bytes\) to s3://artifacts/rds-ca/",
        deployed.stdout,
    )
    assert deployed.stdout.rstrip().endswith(
        "endpoint: https://abc123.execute-api.us-east-1.amazonaws.com/api/"
    )

    planned = run_cli("plan", "--stage", "dev", "--root", tmp_path, env=bootstrapped)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith("## Plan for stage `dev`")
    assert "### `pets-dev-infra`: create, 1 change(s)" in planned.stdout
    assert "### `pets-dev-api`: no changes" in planned.stdout  # same build, same template

    destroyed = run_cli("destroy", "--stage", "dev", env=bootstrapped)
    assert destroyed.returncode == 0, destroyed.stderr
    assert "pets-dev-api: DELETE_COMPLETE" in destroyed.stdout
    live = {s["StackName"]: s["StackStatus"] for s in cf.describe_stacks()["Stacks"]}
    assert "pets-dev-api" not in live


def test_smoke_reads_the_endpoint_from_the_stage_stack(server_env, moto_url):
    import http.server  # noqa: PLC0415 -- this test only
    import threading  # noqa: PLC0415 -- this test only

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/v1/api/pet/Smokey":
                status, body = (
                    200,
                    {"name": "Smokey", "owner": "pets-pipeline", "species": "canary"},
                )
            else:
                status, body = 404, {"code": "NotFound", "message": "No pet has that name."}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/v1/"
        client("cloudformation", moto_url).create_stack(
            StackName="pets-dev-api",
            TemplateBody=json.dumps(
                {
                    "Resources": {"T": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {"EndpointURL": {"Value": endpoint}},
                }
            ),
        )
        result = run_cli("smoke", "--stage", "dev", env=server_env)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert f"smoke: GET {endpoint}api/pet/Smokey -> 200" in result.stdout


def test_aws_profile_is_honoured(tmp_path, server_env):
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[pets]\naws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"  # pragma: allowlist secret -- moto's fake
    )
    env = {k: v for k, v in server_env.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET"))}
    env.update(
        AWS_PROFILE="pets",
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
    )
    template = write(tmp_path, "more.yaml", TOPIC_AND_BUCKET_TEMPLATE)
    result = run_cli("stack-deploy", "--stack-name", "prof", "--template-file", template, env=env)
    assert result.returncode == 0, result.stderr
    assert "prof: CREATE_COMPLETE" in result.stdout
