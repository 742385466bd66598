"""The bootstrap template: who GitHub may become, and what each role may do.

The trust conditions are compared exactly: a StringLike, a missing audience or a subject with a
wildcard would let another repository, branch or environment assume the role.
"""

from fnmatch import fnmatchcase

import pytest

from tests.support.templates import (
    as_list,
    load,
    policy_documents,
    props,
    resources,
    statements,
    walk,
)

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


# The API stack's own policies are in its merge fragment (Chalice adds none: manage_iam_role is
# false); test_api_package.py checks that the packaged template has no other role.
@pytest.mark.parametrize("name", ["bootstrap.yaml", "infra.yaml", "api/merge.yaml"])
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
    assert checked >= 3, "the walk found no policies: the test would prove nothing"


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


# ---------------------------------------------------------------- permissions boundary

EXEC_ROLES = {"dev": "CfnExecRoleDev", "prod": "CfnExecRoleProd"}
BOUNDARIES = {"dev": "StageRoleBoundaryDev", "prod": "StageRoleBoundaryProd"}
# Every IAM action that sets what a role may do, and so must require the boundary.
ROLE_PERMISSION_ACTIONS = {
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
}


def _exec_statements(bootstrap, stage):
    return [
        statement
        for policy in props(bootstrap, EXEC_ROLES[stage])["Policies"]
        for statement in statements(policy["PolicyDocument"])
    ]


@pytest.mark.parametrize("stage", sorted(EXEC_ROLES))
def test_execution_role_changes_role_permissions_only_with_its_stage_boundary(bootstrap, stage):
    boundary = {"Ref": BOUNDARIES[stage]}
    allowed = set()
    for statement in _exec_statements(bootstrap, stage):
        actions = set(as_list(statement["Action"]))
        if statement["Effect"] != "Allow" or not actions & ROLE_PERMISSION_ACTIONS:
            continue
        assert statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == boundary, (
            statement["Sid"]
        )
        assert statement["Resource"]["Fn::Sub"].endswith(f":role/pets-{stage}-*")
        allowed |= actions & ROLE_PERMISSION_ACTIONS
    assert allowed == ROLE_PERMISSION_ACTIONS
    # Ruled out whatever another statement or policy might allow. The denies common to both
    # stages live in StackWritePolicy, which both execution roles carry.
    assert {"Ref": "StackWritePolicy"} in props(bootstrap, EXEC_ROLES[stage])["ManagedPolicyArns"]
    shared = statements(props(bootstrap, "StackWritePolicy")["PolicyDocument"])
    denies = {
        s["Sid"]: s for s in [*_exec_statements(bootstrap, stage), *shared] if s["Effect"] == "Deny"
    }
    assert denies["NoOtherBoundary"]["Resource"] == "*"
    assert set(denies["NoOtherBoundary"]["Action"]) == {
        "iam:CreateRole",
        "iam:PutRolePermissionsBoundary",
    }
    assert denies["NoOtherBoundary"]["Condition"] == {
        "StringNotEquals": {"iam:PermissionsBoundary": boundary}
    }
    assert denies["KeepTheBoundary"]["Action"] == "iam:DeleteRolePermissionsBoundary"
    assert denies["KeepTheBoundary"]["Resource"] == "*"
    edits = denies["NoChangesToTheBoundaryPolicies"]
    assert {"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"} <= set(
        edits["Action"]
    )
    assert edits["Resource"] == [{"Ref": name} for name in BOUNDARIES.values()]
    assert "Condition" not in edits


@pytest.mark.parametrize("stage", sorted(BOUNDARIES))
def test_boundary_policies_are_out_of_reach_of_both_execution_roles(bootstrap, stage):
    name = props(bootstrap, BOUNDARIES[stage])["ManagedPolicyName"]
    assert name == f"pets-boundary-{stage}"
    for other in EXEC_ROLES:
        for statement in _exec_statements(bootstrap, other):
            if statement["Effect"] != "Allow":
                continue
            for resource in as_list(statement["Resource"]):
                pattern = resource["Fn::Sub"] if isinstance(resource, dict) else resource
                if ":policy/" in str(pattern):
                    assert not fnmatchcase(name, str(pattern).rsplit("/", 1)[1]), pattern


@pytest.mark.parametrize("stage", sorted(BOUNDARIES))
def test_boundary_allows_only_what_the_host_and_the_api_lambda_use(bootstrap, stage):
    other = "prod" if stage == "dev" else "dev"
    document = props(bootstrap, BOUNDARIES[stage])["PolicyDocument"]
    assert f"pets-{other}" not in repr(document) and f"/{other}/" not in repr(document)
    actions = set()
    for statement in statements(document):
        assert statement["Effect"] == "Allow"
        actions |= set(as_list(statement["Action"]))
        if statement["Action"] == "secretsmanager:GetSecretValue":
            # Only the master secret of this stage's cluster (the cluster name is fixed).
            condition = statement["Condition"]["StringEquals"]
            cluster = condition["aws:ResourceTag/aws:rds:primaryDBClusterArn"]["Fn::Sub"]
            assert cluster.endswith(f":cluster:pets-{stage}")
    services = {action.split(":")[0] for action in actions}
    assert services == {
        "ssm",
        "ssmmessages",
        "ec2messages",
        "ec2",
        "logs",
        "xray",
        "rds-db",
        "secretsmanager",
        "s3",
    }
    # Nothing that changes IAM, assumes roles, writes S3 or reads SSM parameters.
    assert not any(a.startswith(("iam:", "sts:", "s3:Put", "s3:Delete")) for a in actions)
    assert not {"ssm:GetParameter", "ssm:GetParameters", "ssm:SendCommand"} & actions


def test_boundary_arns_are_exported_for_the_stage_stacks(bootstrap):
    for stage, name in BOUNDARIES.items():
        output = bootstrap["Outputs"][f"PermissionsBoundaryArn{stage.capitalize()}"]
        assert output["Value"] == {"Ref": name}


# ---------------------------------------------------------------- stage tags on shared policies

# Verbs that make a new resource: it has no tag to compare yet.
CREATE_VERBS = ("Create", "Run")


def test_stack_write_policy_changes_only_resources_tagged_with_the_callers_stage(bootstrap):
    own_stage = {"StringEquals": {"aws:ResourceTag/stage": "${aws:PrincipalTag/stage}"}}
    document = props(bootstrap, "StackWritePolicy")["PolicyDocument"]
    scoped = 0
    for statement in statements(document):
        if statement["Effect"] != "Allow":
            continue
        if statement.get("Condition") == own_stage:
            scoped += len(as_list(statement["Action"]))
            continue
        if statement["Resource"] == "*":
            for action in as_list(statement["Action"]):
                verb = action.split(":")[1]
                assert verb.startswith(CREATE_VERBS), f"{statement['Sid']}: {action} on any stage"
        else:
            # Scoped by name instead: never to a name that covers the other stage.
            for resource in as_list(statement["Resource"]):
                text = resource["Fn::Sub"] if isinstance(resource, dict) else resource
                assert "pets-*" not in text, text
    assert scoped >= 40, "the tag-scoped statements lost their actions"
    (deny,) = [s for s in statements(document) if s["Sid"] == "NoRetaggingOtherStages"]
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == {"ec2:CreateTags", "ec2:DeleteTags"}
    assert deny["Condition"] == {
        "Null": {"aws:ResourceTag/stage": "false"},
        "StringNotEquals": {"aws:ResourceTag/stage": "${aws:PrincipalTag/stage}"},
    }


@pytest.mark.parametrize("stage", sorted(EXEC_ROLES))
def test_execution_roles_carry_their_stage_tag(bootstrap, stage):
    assert props(bootstrap, EXEC_ROLES[stage])["Tags"] == [{"Key": "stage", "Value": stage}]


def test_associations_may_only_run_the_patch_baseline_document(bootstrap):
    document = props(bootstrap, "StackWritePolicy")["PolicyDocument"]
    (statement,) = [s for s in statements(document) if "ssm:CreateAssociation" in s["Action"]]
    documents = [r["Fn::Sub"] for r in statement["Resource"] if ":document/" in r["Fn::Sub"]]
    assert documents == ["arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-RunPatchBaseline"]
    assert "Condition" not in statement


# ---------------------------------------------------------------- plan role, command output

COMMAND_OUTPUT = {"ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:ListCommands"}


def test_plan_role_previews_dev_only_and_cannot_read_prod_stacks(bootstrap):
    role = props(bootstrap, "PlanRole")
    stacks = set()
    for policy in role["Policies"]:
        for statement in statements(policy["PolicyDocument"]):
            if statement["Effect"] == "Allow":
                for resource in as_list(statement["Resource"]):
                    text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                    if ":stack/" in text:
                        stacks.add(text.split(":stack/")[1])
                    if statement["Action"] == "iam:PassRole":
                        assert resource == {"Fn::GetAtt": ["CfnExecRoleDev", "Arn"]}
            else:
                assert statement["Resource"]["Fn::Sub"].endswith(":stack/pets-prod-*/*")
                assert {"cloudformation:DescribeStacks", "cloudformation:GetTemplate"} <= set(
                    statement["Action"]
                )
    assert stacks == {"pets-dev-*/*"}


def test_only_the_deploy_roles_read_run_command_output(bootstrap):
    readers = set()
    for where, document in policy_documents(bootstrap):
        for statement in statements(document):
            if statement["Effect"] == "Allow" and COMMAND_OUTPUT & set(
                as_list(statement["Action"])
            ):
                readers.add(where.split("/")[0])
    assert readers == set(STAGES.values())


# ---------------------------------------------------------------- pinned object versions

VERSIONED_PREFIXES = ("/api/", "/rds-ca/", "/migrations/")


@pytest.mark.parametrize("name", ["bootstrap.yaml", "infra.yaml", "api/merge.yaml"])
def test_every_read_of_a_pinned_artifact_may_name_its_version(name):
    """Where s3:GetObject reaches api/, rds-ca/ or migrations/, so does s3:GetObjectVersion."""
    template = load(name)
    found = 0
    for _path, key, value in walk(template["Resources"]):
        if key != "Statement":
            continue
        for statement in as_list(value):
            actions = set(as_list(statement["Action"]))
            if statement["Effect"] != "Allow" or "s3:GetObject" not in actions:
                continue
            if any(prefix in repr(statement["Resource"]) for prefix in VERSIONED_PREFIXES):
                found += 1
                assert "s3:GetObjectVersion" in actions, statement.get("Sid")
    assert found, "no read of a pinned artifact found: the test would prove nothing"


def test_artifacts_bucket_skip_makes_no_claim_the_template_does_not_back(bootstrap):
    (skip,) = bootstrap["Resources"]["ArtifactsBucket"]["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_18"
    trails = resources(bootstrap, "AWS::CloudTrail::Trail")
    data_events = any("DataResources" in repr(props(bootstrap, name)) for name in trails)
    if not data_events:
        # Without a data-event trail, CloudTrail does not record object writes.
        assert "already records" not in skip["comment"]
        assert "data events" in skip["comment"]
