"""The one reader of AWS failures: error codes, messages, and the one line a user reads.

Every command that calls AWS lets botocore's exceptions escape; ``ops.cli.main`` hands anything
it does not know to ``describe`` and prints the answer, so a new command gets readable errors for
free. Commands that react to a particular failure (a missing stack, a missing object) ask the
predicates here instead of reading ``exc.response`` themselves.

botocore is imported only when the exception came from it, so commands that never touch AWS
(``migrate``, ``run``) do not pay for the import.
"""

from ops.context import AWS_READ_TIMEOUT

ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthorizationError",
}
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}
NO_UPDATES = ("No updates are to be performed", "didn't contain changes")


def error_code(exc):
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def error_message(exc):
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return _one_line(response.get("Error", {}).get("Message") or "")
    return _one_line(str(exc))


def reason(exc):
    """``Code: Message`` of an AWS error, for a line that names the call that failed."""
    code = error_code(exc)
    message = error_message(exc)
    return f"{code}: {message}".rstrip(": ") if code else message


# HEAD on a missing key answers 404 with no error body; without s3:ListBucket S3 answers 403.
_MISSING_OBJECT = ("404", "NoSuchKey", "NotFound")


def is_missing_object(exc, forbidden_means_missing=False):
    """True for S3's answer to a key that is not there (and, if asked, to a 403 on HEAD)."""
    codes = (*_MISSING_OBJECT, "403") if forbidden_means_missing else _MISSING_OBJECT
    return error_code(exc) in codes


def is_no_updates(exc):
    """True for the ValidationError CloudFormation raises when a stack already matches."""
    return error_code(exc) == "ValidationError" and any(
        text in error_message(exc) for text in NO_UPDATES
    )


def is_missing_stack(exc):
    """True for the ValidationError of DescribeStacks (and friends) on a stack that is not there."""
    return error_code(exc) == "ValidationError" and "does not exist" in error_message(exc)


def describe(exc):
    """A one-line explanation of an AWS failure, or None when ``exc`` is not one."""
    if not type(exc).__module__.startswith(("botocore", "boto3", "s3transfer")):
        return None
    from botocore import exceptions as b  # noqa: PLC0415 -- only when an AWS error happened

    if isinstance(exc, b.NoCredentialsError | b.PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (after aws sso login or aws configure), "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role is available"
        )
    if isinstance(exc, b.ProfileNotFound):
        profile = exc.kwargs.get("profile")
        return f"AWS profile not found: {profile!r} (check AWS_PROFILE and ~/.aws/config)"
    if isinstance(exc, b.NoRegionError):
        return "no AWS region: set AWS_REGION (for example AWS_REGION=us-east-1)"
    if isinstance(exc, b.TokenRetrievalError | b.SSOTokenLoadError | b.UnauthorizedSSOTokenError):
        return f"AWS SSO login needed: {_one_line(str(exc))} (run aws sso login)"
    if isinstance(exc, b.EndpointConnectionError | b.ConnectTimeoutError):
        return f"cannot reach AWS: {_one_line(str(exc))} (check the network and AWS_ENDPOINT_URL)"
    if isinstance(exc, b.ReadTimeoutError):
        url = exc.kwargs.get("endpoint_url", "the endpoint")
        return (
            f"AWS did not answer at {url} within {AWS_READ_TIMEOUT} s, in any attempt "
            "(check the network, a proxy, and AWS_ENDPOINT_URL)"
        )
    if isinstance(exc, b.ParamValidationError):
        return f"invalid request to AWS: {_one_line(str(exc))}"
    if isinstance(exc, b.WaiterError):
        return f"AWS wait failed: {_one_line(str(exc))}"
    if isinstance(exc, b.ClientError):
        return _client_error(exc)
    return f"AWS error: {type(exc).__name__}: {_one_line(str(exc))}"


def _client_error(exc):
    code = error_code(exc) or "Unknown"
    message = error_message(exc)
    operation = getattr(exc, "operation_name", None) or "an AWS call"
    attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
    if code in ACCESS_DENIED:
        return f"access denied on {operation}: {message} (check the role's policy)"
    if code in THROTTLED:
        return (
            f"AWS throttled {operation} ({code}) and it still failed after {attempts} "
            "attempt(s) with botocore's standard retries; wait a minute and run again"
        )
    if code in EXPIRED:
        return f"AWS credentials expired ({code}): log in again or refresh the role session"
    if code in BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({code}): {message}"
    if code == "ValidationError" and "must have values" in message:
        return f"missing parameter: {message} (pass it with --parameter-overrides Name=value)"
    if code == "ValidationError" and message.startswith("Template format error"):
        return f"invalid template: {message}"
    return f"{operation} failed ({code}): {message}"


def _one_line(text):
    return " ".join(str(text).split())
