"""Pure parts of the deploy tooling: template reading, parameter merge, error wording, stages."""

from fnmatch import fnmatchcase

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from ops import stages
from ops.aws import errors as awserrors
from ops.cfn import templates
from ops.cfn.changeset import Change, ChangeSet, StackSpec, classify, markdown, text_table
from ops.errors import OpsError


def client_error(code, message, operation="DescribeStacks", retries=0):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"RetryAttempts": retries},
    }
    return ClientError(response, operation)


def test_short_form_tags_are_read_as_long_forms():
    template = templates.parse(
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      Tags: [{Key: a, Value: !Ref Name}, {Key: b, Value: !GetAtt X.Arn}]\n"
        "      Other: !Join [',', [a, !Select [0, !GetAZs '']]]\n"
        "      Version: 2012-10-17\n"
    )
    props = template["Resources"]["Q"]["Properties"]
    assert props["QueueName"] == {"Fn::Sub": "${AWS::StackName}-q"}
    assert props["Tags"][0]["Value"] == {"Ref": "Name"}
    assert props["Tags"][1]["Value"] == {"Fn::GetAtt": ["X", "Arn"]}
    assert props["Other"] == {"Fn::Join": [",", ["a", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]}
    assert props["Version"] == "2012-10-17"  # not a date


def test_json_templates_are_read():
    assert templates.parse('{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')["Resources"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources: [", "line 1"),
        ("- a list\n", "the top level is not a mapping"),
        ("Resources: {}\n", "no Resources section"),
        ("Resources:\n  T: {Properties: {}}\n", "resource T has no Type"),
    ],
)
def test_invalid_templates_are_one_line_errors(text, message):
    with pytest.raises(OpsError, match=message) as info:
        templates.parse(text, "t.yaml")
    assert "\n" not in str(info.value)


DECLARED = {"Parameters": {"A": {"Type": "String"}, "B": {"Type": "String", "Default": "b"}}}


def test_merge_sends_only_declared_parameters_of_a_new_stack():
    assert templates.merge_parameters(DECLARED, {"A": "1", "Undeclared": "x"}) == [
        {"ParameterKey": "A", "ParameterValue": "1"}
    ]


def test_merge_keeps_previous_values_of_an_existing_stack():
    assert templates.merge_parameters(DECLARED, {}, existing={"A", "B"}) == [
        {"ParameterKey": "A", "UsePreviousValue": True},
        {"ParameterKey": "B", "UsePreviousValue": True},
    ]


def test_merge_names_the_missing_parameter():
    with pytest.raises(OpsError, match="missing parameter: A has no value"):
        templates.merge_parameters(DECLARED, {})


def test_parse_pairs():
    assert templates.parse_pairs(["a=1", "b=x=y", "c="], "--tags") == {
        "a": "1",
        "b": "x=y",
        "c": "",
    }
    with pytest.raises(OpsError, match="--tags must be Key=Value"):
        templates.parse_pairs(["novalue"], "--tags")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "create"),
        ("REVIEW_IN_PROGRESS", "create"),
        ("ROLLBACK_COMPLETE", "recreate"),
        ("CREATE_COMPLETE", "update"),
        ("UPDATE_ROLLBACK_COMPLETE", "update"),
    ],
)
def test_classify(status, expected):
    stack = None if status is None else {"StackName": "s", "StackStatus": status}
    assert classify(stack) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (NoCredentialsError(), "no AWS credentials found"),
        (NoRegionError(), "no AWS region: set AWS_REGION"),
        (client_error("AccessDenied", "not authorized"), "access denied on DescribeStacks"),
        (client_error("Throttling", "Rate exceeded", retries=2), "after 3 attempt(s)"),
        (client_error("ExpiredToken", "expired"), "AWS credentials expired"),
        (
            client_error("ValidationError", "Parameters: [A] must have values", "CreateChangeSet"),
            "missing parameter: Parameters: [A] must have values",
        ),
        (
            client_error("ValidationError", "Template format error: YAML not well-formed."),
            "invalid template: Template format error",
        ),
        (
            client_error("LimitExceeded", "too\nmany"),
            "DescribeStacks failed (LimitExceeded): too many",
        ),
    ],
)
def test_aws_errors_are_one_line(exc, expected):
    message = awserrors.describe(exc)
    assert expected in message
    assert "\n" not in message


def test_non_aws_errors_are_left_alone():
    assert awserrors.describe(ValueError("x")) is None


def test_no_updates_and_missing_stack_are_recognised():
    assert awserrors.is_no_updates(
        client_error("ValidationError", "No updates are to be performed.")
    )
    assert not awserrors.is_no_updates(client_error("ValidationError", "Template format error"))
    assert awserrors.is_missing_stack(
        client_error("ValidationError", "Stack with id x does not exist")
    )


def test_no_stage_can_change_any_stage_bootstrap_stack():
    """A deploy role may change its stage's pets-<stage>-* stacks; the stacks holding the roles
    (pets-bootstrap and pets-bootstrap-<stage>) must match no stage's pattern."""
    bootstrap = [stages.ACCOUNT_STACK, *(stages.bootstrap_stack_name(s) for s in stages.NAMES)]
    assert bootstrap[1:] == [f"pets-bootstrap-{s}" for s in stages.NAMES]
    for stage in stages.NAMES:
        assert not [name for name in bootstrap if fnmatchcase(name, f"pets-{stage}-*")], stage


def test_one_stage_previews_pull_requests_and_it_is_not_protected():
    (previewed,) = [s for s in stages.STAGES if s.previews_pull_requests]
    assert not previewed.protected


def test_stages_are_listed_in_deploy_order():
    names = [s.name for s in stages.stacks("dev")]
    assert names == ["pets-dev-infra", "pets-dev-api"]
    api = stages.stack("prod", "api")
    assert api.template.parts[-3:] == ("build", "api", "sam.yaml")
    assert "CAPABILITY_AUTO_EXPAND" in api.capabilities
    # only what merge.yaml declares; prod takes a new version as a canary
    assert api.parameters == {"Stage": "prod", "DeploymentType": "Canary10Percent15Minutes"}
    with pytest.raises(OpsError):
        stages.stacks("staging")


def test_a_stage_sets_capacity_parameters_in_git_but_never_its_name_or_protection():
    stage = stages.Stage(
        "prod",
        protected=True,
        infra={"DbReaderCount": "1", "Stage": "dev", "DbDeletionProtection": "false"},
        api={"ReservedConcurrency": "40"},
    )
    infra = _per_stage(stages.stack(stage, "infra").parameters)
    assert infra == {"DbReaderCount": "1", "Stage": "prod", "DbDeletionProtection": "true"}
    assert stages.stack(stage, "api").parameters == {
        "ReservedConcurrency": "40",
        "Stage": "prod",
        "DeploymentType": "AllAtOnce",
    }
    assert _per_stage(stages.stack("dev", "infra").parameters) == {
        "Stage": "dev",
        "DbDeletionProtection": "false",
    }  # the stages as defined set nothing else: the templates' defaults apply


def _per_stage(parameters):
    """Without the two every stage gets from the code: the pinned host release and the key of
    the host's requirements (docs/patching.md, docs/migrations.md)."""
    assert set(parameters) >= {"HostOsRelease", "HostRequirementsKey"}
    return {
        k: v for k, v in parameters.items() if k not in ("HostOsRelease", "HostRequirementsKey")
    }


def test_a_change_set_shows_replacements_first():
    cs = ChangeSet(
        spec=StackSpec(name="pets-dev-infra"),
        change_set_type="UPDATE",
        changes=[
            Change("Modify", "Database", "AWS::RDS::DBCluster", "True"),
            Change("Modify", "Host", "AWS::EC2::Instance", "Conditional"),
            Change("Modify", "Queue", "AWS::SQS::Queue", "False"),
        ],
    )
    first = "**REPLACES** (deletes and creates anew): `Database` (True), `Host` (Conditional)"
    assert markdown(cs).split("\n\n")[1] == "> " + first
    assert text_table(cs).splitlines()[0] == first.replace("`", "")
