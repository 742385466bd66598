"""The bootstrap templates: once per account (bootstrap-account.yaml) and once per stage
(bootstrap-stage.yaml). What each identity may do is evaluated in test_isolation.py; these tests
hold the properties that are about the templates' shape: exact trust, no stage named inside the
stage template, the buckets' protections, IAM's size limits, and the outputs ops reads.
"""

import json
import re

import pytest

from ops import stages
from tests.support.identities import Account
from tests.support.templates import as_list, load, policy_documents, props, resources, statements

OIDC_HOST = "token.actions.githubusercontent.com"
PROVIDER = {
    "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:oidc-provider/{OIDC_HOST}"
}
TEMPLATES = ("bootstrap-account.yaml", "bootstrap-stage.yaml", "infra.yaml", "api/merge.yaml")


def _trust(template, role):
    (statement,) = statements(props(template, role)["AssumeRolePolicyDocument"])
    return statement


def _subject(context, workflow, ref):
    return {
        "Fn::Sub": f"repo:${{GitHubOrg}}/${{GitHubRepo}}:{context}:job_workflow_ref:"
        f"${{GitHubOrg}}/${{GitHubRepo}}/.github/workflows/{workflow}@{ref}"
    }


def test_deploy_role_trusts_its_environment_in_the_deploy_workflow_on_main(bootstrap):
    statement = _trust(bootstrap, "DeployRole")
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{OIDC_HOST}:sub": _subject(
                "environment:${Stage}", "deploy-stage.yml", "refs/heads/main"
            ),
        }
    }


@pytest.mark.parametrize(
    ("role", "workflow"),
    [
        ("PreviewRole", "preview-stage.yml"),
        ("DriftRole", "drift-stage.yml"),
        ("PatchRole", "patch-stage.yml"),
    ],
)
def test_each_role_without_an_environment_trusts_its_reusable_workflow_on_main(
    bootstrap, role, workflow
):
    statement = _trust(bootstrap, role)
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{OIDC_HOST}:sub": _subject("ref:refs/heads/main", workflow, "refs/heads/main"),
        }
    }
    # Every stage has them, and ops bootstrap reads their ARNs as outputs.
    assert "Condition" not in bootstrap["Resources"][role]
    assert bootstrap["Outputs"][f"{role}Arn"]["Value"] == {"Fn::GetAtt": [role, "Arn"]}


def test_plan_role_trusts_pull_requests_of_the_preview_workflow(bootstrap):
    statement = _trust(bootstrap, "PlanRole")
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Condition"] == {
        "StringEquals": {f"{OIDC_HOST}:aud": "sts.amazonaws.com"},
        "StringLike": {
            f"{OIDC_HOST}:sub": _subject("pull_request", "preview.yml", "refs/pull/*/merge")
        },
    }
    assert bootstrap["Resources"]["PlanRole"]["Condition"] == "Previews"


def test_the_account_creates_the_oidc_provider_unless_it_has_one(account_bootstrap):
    provider = account_bootstrap["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == f"https://{OIDC_HOST}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert account_bootstrap["Conditions"]["CreateOidcProvider"] == {
        "Fn::Equals": [{"Ref": "ExistingOidcProviderArn"}, ""]
    }
    # An account holds one provider per URL; the stage roles name it by that fixed ARN.
    assert not resources(account_bootstrap, "AWS::IAM::Role").keys() - {"ApiGatewayCloudWatchRole"}


def test_every_role_trusts_only_this_account(bootstrap, account_bootstrap):
    """So with one account per stage nothing crosses: no principal of another account."""
    for template in (bootstrap, account_bootstrap):
        for name in resources(template, "AWS::IAM::Role"):
            statement = _trust(template, name)
            principal = statement["Principal"]
            if "Service" in principal:
                assert statement["Condition"] == {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                }, name
            else:
                assert principal == {"Federated": PROVIDER}, name


def test_execution_role_is_for_cloudformation_only(bootstrap):
    assert _trust(bootstrap, "CfnExecRole")["Principal"] == {
        "Service": "cloudformation.amazonaws.com"
    }


@pytest.mark.parametrize("name", TEMPLATES[1:])  # the account template writes no policy
def test_no_policy_allows_all_actions_or_all_actions_of_a_service(name):
    """Denies may use wildcards (NothingOfAnotherStage); an Allow lists every action."""
    template = load(name)
    checked = 0
    for where, document in policy_documents(template):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                checked += 1
                assert "*" not in action, f"{where}: {action} (list the actions instead)"
    assert checked >= 3, "the walk found no policies: the test would prove nothing"


def test_the_stage_template_names_no_stage(bootstrap):
    """One template for every stage: a literal dev or prod would tie one stage to another."""
    text = json.dumps(bootstrap["Resources"]) + json.dumps(bootstrap["Outputs"])
    for stage in stages.NAMES:
        assert not re.search(rf"\b{stage}\b", text), stage


def test_a_stage_named_bootstrap_is_refused(bootstrap):
    """Its deploy role would change pets-bootstrap-*, every stage's roles."""
    (rule,) = bootstrap["Rules"].values()
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "bootstrap"]}]
    }


# ------------------------------------------------------------------------ buckets
def _bucket_policies(template):
    policies = {}
    for name in resources(template, "AWS::S3::BucketPolicy"):
        bucket = props(template, name)["Bucket"]["Ref"]
        policies[bucket] = statements(props(template, name)["PolicyDocument"])
    return policies


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(bootstrap):
    """The Guard Rules Registry's S3_BUCKET_SSL_REQUESTS_ONLY: a Deny with "aws:SecureTransport"
    false, the boolean, as AWS documents it."""
    policies = _bucket_policies(bootstrap)
    buckets = resources(bootstrap, "AWS::S3::Bucket")
    assert set(buckets) == {"ArtifactsBucket", "AccessLogBucket"} == set(policies)
    for name in buckets:
        bucket = props(bootstrap, name)
        assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert bucket["OwnershipControls"] == {
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
        }
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bootstrap["Resources"][name]["DeletionPolicy"] == "Retain"
        (tls,) = [s for s in policies[name] if s["Sid"] == "DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": False}}
        assert len(tls["Resource"]) == 2  # the bucket and its objects


def test_the_artifacts_bucket_logs_to_a_bucket_that_expires_its_logs(bootstrap):
    """S3_BUCKET_LOGGING_ENABLED for the artifacts bucket; the log bucket, which cannot log into
    itself, suppresses the rule with its reason and takes only the logging service's writes."""
    artifacts = props(bootstrap, "ArtifactsBucket")
    assert artifacts["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "AccessLogBucket"},
        "LogFilePrefix": "artifacts/",
    }
    logs = bootstrap["Resources"]["AccessLogBucket"]
    assert logs["Metadata"]["guard"] == {"SuppressedRules": ["S3_BUCKET_LOGGING_ENABLED"]}
    rules = logs["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [r["ExpirationInDays"] for r in rules] == [{"Ref": "AccessLogExpirationDays"}]
    allows = [s for s in _bucket_policies(bootstrap)["AccessLogBucket"] if s["Effect"] == "Allow"]
    (delivery,) = allows
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == {"Fn::Sub": "${AccessLogBucket.Arn}/artifacts/*"}
    assert set(delivery["Condition"]) == {"ArnLike", "StringEquals"}
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_artifacts_expire_by_prefix(bootstrap):
    rules = props(bootstrap, "ArtifactsBucket")["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)
    expiring = {rule.get("Prefix") for rule in rules if "ExpirationInDays" in rule}
    assert expiring == {
        "api/",
        "plan/",
        "templates/",
        "patch-output/",
    }  # never migrations/, rds-ca/


# ------------------------------------------------------------------------ IAM limits
def _minified(document):
    return len(re.sub(r"\s", "", json.dumps(document)))


def test_every_policy_fits_iam_size_limits():
    """IAM refuses a managed policy over 6,144 characters and a role whose inline policies
    together pass 10,240 (whitespace not counted): measured with the longest stage name."""
    account = Account(["s" * 12], parameters=lambda stage: {"PreviewPullRequests": "true"})
    checked = 0
    for stack in account.stacks:
        for name, resource in stack.resources.items():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                size = _minified(stack.resolve(properties["PolicyDocument"]))
                assert size <= 6144, f"{stack.name}/{name}: {size} characters"
                checked += 1
            if resource["Type"] == "AWS::IAM::Role" and properties.get("Policies"):
                size = sum(_minified(stack.resolve(p)) for p in properties["Policies"])
                assert size <= 10240, f"{stack.name}/{name}: {size} characters"
                checked += 1
    assert checked >= 8


# ------------------------------------------------------------------------ what ops reads
def test_the_stage_stack_exports_what_ops_and_the_stage_stacks_read(bootstrap):
    outputs = bootstrap["Outputs"]
    # ops.stages: the execution role and bucket; infra.yaml and merge.yaml import the bucket.
    assert outputs["ExecutionRoleArn"]["Value"] == {"Fn::GetAtt": ["CfnExecRole", "Arn"]}
    assert outputs["ArtifactsBucket"]["Value"] == {"Ref": "ArtifactsBucket"}
    for name in ("infra.yaml", "api/merge.yaml"):
        assert "pets-bootstrap-${Stage}-ArtifactsBucket" in json.dumps(load(name)), name
    # ops bootstrap: the GitHub variables.
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployRole", "Arn"]}
    assert outputs["PlanRoleArn"] == {
        "Condition": "Previews",
        "Description": outputs["PlanRoleArn"]["Description"],
        "Value": {"Fn::GetAtt": ["PlanRole", "Arn"]},
        "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-PlanRoleArn"}},
    }


def test_the_boundary_lets_a_stage_log_in_as_its_own_api_user_only(bootstrap, api):
    (connect,) = [
        s
        for s in statements(props(bootstrap, "StageRoleBoundary")["PolicyDocument"])
        if s["Action"] == "rds-db:connect"
    ]
    user = api["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]["DB_USER"]
    assert connect["Resource"]["Fn::Sub"].endswith(f":dbuser:*/{user['Fn::Sub']}")
    assert props(bootstrap, "StageRoleBoundary")["ManagedPolicyName"] == {
        "Fn::Sub": "pets-boundary-${Stage}"
    }


# ------------------------------------------------------------------------ pinned versions
VERSIONED_PREFIXES = ("/api/", "/rds-ca/", "/migrations/")


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_read_of_a_pinned_artifact_may_name_its_version(name):
    """Where s3:GetObject reaches api/, rds-ca/ or migrations/, so does s3:GetObjectVersion."""
    found = 0
    for _where, document in policy_documents(load(name)):
        for statement in statements(document):
            actions = set(as_list(statement["Action"]))
            if statement["Effect"] != "Allow" or "s3:GetObject" not in actions:
                continue
            if any(prefix in repr(statement["Resource"]) for prefix in VERSIONED_PREFIXES):
                found += 1
                assert "s3:GetObjectVersion" in actions, statement.get("Sid")
    if name != "bootstrap-account.yaml":
        assert found, "no read of a pinned artifact found: the test would prove nothing"
