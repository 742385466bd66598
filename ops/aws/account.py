"""What an AWS account already holds that the bootstrap must not take over.

IAM allows one OIDC provider per URL in an account, and API Gateway has one CloudWatch role per
account and region; the account bootstrap stack creates each only where there is none, so a
provider or logging role someone else made is reused, never replaced or deleted.
"""

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def caller_account(ctx):
    """The account ID the context's credentials belong to."""
    return ctx.client("sts").get_caller_identity()["Account"]


def github_oidc_provider(ctx):
    """The ARN of the account's GitHub OIDC provider, or None."""
    providers = ctx.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    for provider in providers:
        if provider["Arn"].endswith(f":oidc-provider/{GITHUB_OIDC_HOST}"):
            return provider["Arn"]
    return None


def api_gateway_logging_role(ctx):
    """The ARN of API Gateway's account-wide CloudWatch role in this region, or None."""
    return ctx.client("apigateway").get_account().get("cloudwatchRoleArn") or None
