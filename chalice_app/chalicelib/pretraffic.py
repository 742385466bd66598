"""The PreTraffic hook: the smoke lookups against a new API version before it takes any traffic.

CodeDeploy runs this function (its own Lambda, from the same package) after the API's new
version is published and before the ``live`` alias moves to it. It invokes that version directly
(``TARGET_VERSION``, which the template sets: the hook's event does not carry it) with the two
requests ``python -m ops smoke`` makes through API Gateway: the pipeline's own pet must answer
200 with exactly its record, an unknown pet 404 with the NotFound body. Then it reports the
verdict to CodeDeploy (PutLifecycleEventHookExecutionStatus), which it must always do: a hook
that never reports holds the deployment for an hour before it fails. Failed means CodeDeploy
stops, the alias stays on the old version, and CloudFormation rolls the stack back.

boto3 is the Lambda runtime's own, imported only when the hook runs: the API never imports this
module.
"""

import json
import logging
import os

# The pipeline's own pet: sql/aws/canary.sql puts it in every stage, sql/sample/pets.sql locally.
CANARY_PET = {"name": "Smokey", "owner": "pets-pipeline", "species": "canary"}
UNKNOWN_PET = "no-such-pet-hook"  # a name a pet could have: at most 20 characters
NOT_FOUND = {"code": "NotFound", "message": "No pet has that name."}

log = logging.getLogger("pets.pretraffic")


def api_event(name):
    """A REST API proxy event for ``GET /api/pet/{name}``, as API Gateway sends it."""
    path = f"/api/pet/{name}"
    return {
        "resource": "/api/pet/{name}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "pretraffic.invalid"},
        "multiValueHeaders": {"Accept": ["application/json"], "Host": ["pretraffic.invalid"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"name": name},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/api/pet/{name}",
            "httpMethod": "GET",
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "pretraffic",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def check(invoke):
    """Run the lookups through ``invoke(event) -> proxy response``; return what is wrong."""
    problems = []
    lookups = ((CANARY_PET["name"], 200, CANARY_PET), (UNKNOWN_PET, 404, NOT_FOUND))
    for name, status, body in lookups:
        try:
            answer = invoke(api_event(name))
            got_status = answer.get("statusCode")
            got_body = json.loads(answer.get("body") or "null")
        except Exception as exc:  # noqa: BLE001 -- any failure of the new version is a verdict
            problems.append(f"GET /api/pet/{name} failed: {type(exc).__name__}: {exc}")
            continue
        if got_status != status:
            problems.append(f"GET /api/pet/{name} answered {got_status}, expected {status}")
        elif got_body != body:
            problems.append(f"GET /api/pet/{name} answered {got_body}, expected {body}")
    return problems


def invoker(lambda_client, target):
    """``invoke(event)`` calling the Lambda version ``target`` synchronously."""

    def invoke(event):
        answer = lambda_client.invoke(
            FunctionName=target, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise RuntimeError(f"the function failed: {payload}")
        return payload

    return invoke


def run(event, lambda_client, codedeploy, target):
    """Check ``target`` and report the verdict for the hook ``event``; return the status."""
    try:
        problems = check(invoker(lambda_client, target))
    except Exception as exc:  # noqa: BLE001 -- CodeDeploy must hear a verdict whatever happens
        problems = [f"the checks could not run: {type(exc).__name__}: {exc}"]
    status = "Failed" if problems else "Succeeded"
    (log.warning if problems else log.info)(
        "pre-traffic checks %s", status, extra={"fields": {"target": target, "problems": problems}}
    )
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event.get("DeploymentId") or event["deploymentId"],
        lifecycleEventHookExecutionId=(
            event.get("LifecycleEventHookExecutionId") or event["lifecycleEventHookExecutionId"]
        ),
        status=status,
    )
    return status


def handler(event, context):
    import boto3  # noqa: PLC0415 -- the runtime's, and only the hook needs it

    from chalicelib import logs  # noqa: PLC0415 -- the same JSON log lines as the API

    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    target = os.environ["TARGET_VERSION"]
    return run(event, boto3.client("lambda"), boto3.client("codedeploy"), target)
