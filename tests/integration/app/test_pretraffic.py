"""The PreTraffic hook: its lookups against the real app on the test database (invoked in-process
as Lambda would), and its report to CodeDeploy (Stubber: moto implements neither the Lambda
invocation of a version nor PutLifecycleEventHookExecutionStatus)."""

import io
import json

import pytest
from botocore.response import StreamingBody

from app import create_app
from chalicelib.pretraffic import check, run
from tests.support.aws import stubbed_client
from tests.support.db import insert_pets, scratch_database
from tests.support.events import LambdaContext


def _in_process(settings):
    app = create_app(settings=settings)
    return lambda event: app(event, LambdaContext())


def test_the_lookups_pass_against_a_good_version(pets_db):
    assert check(_in_process(pets_db)) == []


def test_a_version_whose_database_lacks_the_canary_fails(server_settings):
    with scratch_database(server_settings, migrated=True) as settings:
        insert_pets(settings, [("Fluffy", "Harold", "cat", "f")])
        assert check(_in_process(settings)) == ["GET /api/pet/Smokey answered 404, expected 200"]


def test_a_version_that_crashes_fails():
    def broken(event):
        raise RuntimeError("Unable to import module 'app'")

    problems = check(broken)
    assert len(problems) == 2
    assert problems[0] == "GET /api/pet/Smokey failed: RuntimeError: Unable to import module 'app'"


TARGET = "arn:aws:lambda:us-east-1:123456789012:function:pets-dev-api-APIHandler:7"
HOOK_EVENT = {"DeploymentId": "d-123", "LifecycleEventHookExecutionId": "hook-456"}


def _payload(answer):
    data = json.dumps(answer).encode()
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.mark.parametrize(
    "answers, status",
    [
        (
            [
                {"statusCode": 200, "body": json.dumps(
                    {"name": "Smokey", "owner": "pets-pipeline", "species": "canary"})},
                {"statusCode": 404, "body": json.dumps(
                    {"code": "NotFound", "message": "No pet has that name."})},
            ],
            "Succeeded",
        ),
        ([{"statusCode": 502, "body": "{}"}, {"statusCode": 502, "body": "{}"}], "Failed"),
    ],
)  # fmt: skip
def test_the_hook_invokes_the_new_version_and_reports_its_verdict(answers, status):
    lambda_client, lambda_stub = stubbed_client("lambda")
    for answer in answers:
        lambda_stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": _payload(answer)},
            {"FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": pytest_any()},
        )
    codedeploy, codedeploy_stub = stubbed_client("codedeploy")
    codedeploy_stub.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": "hook-456"},
        {"deploymentId": "d-123", "lifecycleEventHookExecutionId": "hook-456", "status": status},
    )
    with lambda_stub, codedeploy_stub:
        assert run(HOOK_EVENT, lambda_client, codedeploy, TARGET) == status
        lambda_stub.assert_no_pending_responses()
        codedeploy_stub.assert_no_pending_responses()


def test_the_hook_reports_failed_when_the_version_cannot_even_be_invoked():
    lambda_client, lambda_stub = stubbed_client("lambda")
    lambda_stub.add_client_error("invoke", "ResourceNotFoundException", "no such version")
    lambda_stub.add_client_error("invoke", "ResourceNotFoundException", "no such version")
    codedeploy, codedeploy_stub = stubbed_client("codedeploy")
    codedeploy_stub.add_response(
        "put_lifecycle_event_hook_execution_status",
        {},
        {"deploymentId": "d-123", "lifecycleEventHookExecutionId": "hook-456", "status": "Failed"},
    )
    with lambda_stub, codedeploy_stub:
        assert run(HOOK_EVENT, lambda_client, codedeploy, TARGET) == "Failed"


def pytest_any():
    from botocore.stub import ANY  # noqa: PLC0415 -- botocore's wildcard, for the payload

    return ANY
