"""What Lambda hands the handler: an API Gateway REST proxy event and a context object.

The tests and the benchmark (bench/) both call the handler with these, so both measure and check
the same request. They live here rather than in bench/ because neither is shipped and the bench
already takes its scratch databases from ``tests.support``: the tests depend on nothing in bench/,
and the bench depends on the test helpers, one direction only.

The event has the shape API Gateway (REST API, Lambda proxy integration, payload 1.0) sends,
with the headers CloudFront and API Gateway add, so that both Chalice and the apig-wsgi adapter
parse as much as they would in AWS. The path and ``pathParameters`` carry the name
percent-encoded, as the browser sent it (see chalicelib/names.py).
"""

import time
import uuid
from urllib.parse import quote

STAGE = "api"
RESOURCE = "/api/pet/{name}"
API_ID = "a1b2c3d4e5"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def pet_event(name, method="GET", request_id=None):
    """A REST proxy event for ``<method> /api/pet/<name>``, the name percent-encoded as a
    browser sends it."""
    return proxy_event(quote(name, safe=""), method, request_id)


def proxy_event(encoded, method="GET", request_id=None):
    """A REST proxy event whose path parameter is ``encoded`` exactly as it was in the URL."""
    path = f"/api/pet/{encoded}"
    request_id = request_id or str(uuid.uuid4())
    host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate, br",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Desktop-Viewer": "true",
        "CloudFront-Is-Mobile-Viewer": "false",
        "CloudFront-Is-SmartTV-Viewer": "false",
        "CloudFront-Is-Tablet-Viewer": "false",
        "CloudFront-Viewer-Country": "US",
        "Host": host,
        "User-Agent": "curl/8.5.0",
        "Via": "2.0 0f1e2d3c4b5a69788796a5b4c3d2e1f0.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": uuid.uuid4().hex + uuid.uuid4().hex[:20] + "==",
        "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):x}-{uuid.uuid4().hex[:24]}",
        "X-Forwarded-For": "203.0.113.7, 198.51.100.21",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    now = time.time()
    return {
        "resource": RESOURCE,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"name": encoded},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": RESOURCE,
            "httpMethod": method,
            "extendedRequestId": "Fk3qWGZuoAMF-eQ=",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": "203.0.113.7",
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": "curl/8.5.0",
                "user": None,
            },
            "domainName": host,
            "apiId": API_ID,
        },
        "body": None,
        "isBase64Encoded": False,
    }


class LambdaContext:
    """The attributes of the Python runtime's context object that a handler may read."""

    function_name = "pets-dev-api"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:pets-dev-api"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/pets-dev-api"
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"

    def __init__(self, timeout_ms=5000):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self):
        return int(max(0.0, self._deadline - time.monotonic()) * 1000)
