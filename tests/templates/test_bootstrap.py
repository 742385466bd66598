"""The bootstrap template: who GitHub may become, and what each role may do.

The trust conditions are compared exactly: a StringLike, a missing audience or a subject with a
wildcard would let another repository, branch or environment assume the role.
"""

import pytest

from .helpers import as_list, load, policy_documents, props, resources, statements

pytestmark = pytest.mark.unit

OIDC_HOST = "token.actions.githubusercontent.com"
STAGES = {"dev": "DeployRoleDev", "prod": "DeployRoleProd"}


def _trust(bootstrap, role):
    (statement,) = statements(props(bootstrap, role)["AssumeRolePolicyDocument"])
    return statement


def _subject(kind):
    return {"Fn::Sub": f"repo:${{GitHubOrg}}/${{GitHubRepo}}:{kind}"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deploy_role_trusts_exactly_its_github_environment(bootstrap, stage):
    statement = _trust(bootstrap, STAGES[stage])
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{OIDC_HOST}:sub": _subject(f"environment:{stage}"),
        }
    }


def test_plan_role_trusts_exactly_pull_requests(bootstrap):
    statement = _trust(bootstrap, "PlanRole")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{OIDC_HOST}:sub": _subject("pull_request"),
        }
    }


def test_github_roles_trust_the_created_or_the_reused_oidc_provider(bootstrap):
    provider = bootstrap["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == f"https://{OIDC_HOST}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert bootstrap["Conditions"]["CreateOidcProvider"] == {
        "Fn::Equals": [{"Ref": "ExistingOidcProviderArn"}, ""]
    }
    for role in ("PlanRole", *STAGES.values()):
        assert _trust(bootstrap, role)["Principal"] == {
            "Federated": {
                "Fn::If": [
                    "CreateOidcProvider",
                    {"Ref": "GitHubOidcProvider"},
                    {"Ref": "ExistingOidcProviderArn"},
                ]
            }
        }


def test_execution_roles_are_for_cloudformation_only(bootstrap):
    for role in ("CfnExecRoleDev", "CfnExecRoleProd"):
        statement = _trust(bootstrap, role)
        assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}


@pytest.mark.parametrize("name", ["bootstrap.yaml", "infra.yaml"])
def test_no_policy_allows_all_actions_or_all_actions_of_a_service(name):
    template = load(name)
    checked = 0
    for where, document in policy_documents(template):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                checked += 1
                assert action != "*" and not action.endswith(":*"), f"{where}: {action}"
                assert "*" not in action, f"{where}: {action} (list the actions instead)"
    assert checked >= 5, "the walk found no policies: the test would prove nothing"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deploy_role_reaches_only_its_own_stage(bootstrap, stage):
    other = "prod" if stage == "dev" else "dev"
    role = props(bootstrap, STAGES[stage])
    text = repr(role["Policies"])
    assert f"pets-{stage}-" in text
    assert f"pets-{other}" not in text and f"/{other}/" not in text
    passes = [
        statement
        for policy in role["Policies"]
        for statement in statements(policy["PolicyDocument"])
        if statement["Action"] == "iam:PassRole"
    ]
    (passrole,) = passes
    assert passrole["Resource"] == {"Fn::GetAtt": [f"CfnExecRole{stage.capitalize()}", "Arn"]}
    assert passrole["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }


def test_plan_role_cannot_execute_or_delete(bootstrap):
    actions = {
        action
        for policy in props(bootstrap, "PlanRole")["Policies"]
        for statement in statements(policy["PolicyDocument"])
        for action in as_list(statement["Action"])
    }
    read = props(bootstrap, "StackReadPolicy")["PolicyDocument"]
    actions |= {a for s in statements(read) for a in as_list(s["Action"])}
    assert "cloudformation:ExecuteChangeSet" not in actions
    assert "cloudformation:DeleteStack" not in actions
    assert not any(a.startswith("ssm:SendCommand") for a in actions)
    assert "secretsmanager:GetSecretValue" not in actions


def test_artifacts_bucket_is_private_encrypted_versioned_tls_only_and_expires(bootstrap):
    bucket = props(bootstrap, "ArtifactsBucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)
    assert any(rule.get("Prefix") == "api/" and "ExpirationInDays" in rule for rule in rules)
    (policy,) = resources(bootstrap, "AWS::S3::BucketPolicy").values()
    denies = [
        s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"
    ]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_bootstrap_outputs_have_the_agreed_names(bootstrap):
    assert set(bootstrap["Outputs"]) >= {
        "ArtifactsBucket",
        "DeployRoleArnDev",
        "DeployRoleArnProd",
        "PlanRoleArn",
    }
