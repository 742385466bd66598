"""The OIDC subjects the workflows present match the bootstrap template's trust conditions exactly.

GitHub's token subject is ``repo:<owner>/<repo>:environment:<name>`` for a job in an environment
and ``repo:<owner>/<repo>:pull_request`` for a pull-request job without one. The bootstrap stack
(cloudformation/bootstrap.yaml) exports one deploy role per stage (``DeployRoleArn<Stage>``) and
the plan role (``PlanRoleArn``); the workflows read those ARNs from the GitHub variables
``AWS_DEPLOY_ROLE_ARN`` (per environment) and ``AWS_PLAN_ROLE_ARN`` (repository). So:

* every job that assumes ``AWS_DEPLOY_ROLE_ARN`` in environment S presents ``environment:S``, and
  the role exported as ``DeployRoleArn<S>`` trusts exactly that subject (StringEquals, no
  wildcard), with audience ``sts.amazonaws.com``;
* every job that assumes ``AWS_PLAN_ROLE_ARN`` runs only for pull requests, outside any
  environment, and the role exported as ``PlanRoleArn`` trusts exactly ``pull_request``.

The template is written in parallel with these workflows; until it is on this branch the test
against it is skipped (the checker itself is tested below on small templates).
"""

import copy

import pytest

from ops import stages
from tests.support.workflows import (
    ROOT,
    environment_name,
    evaluate,
    load_template,
    load_workflow,
    oidc_trust,
    output_role,
    possible_values,
    role_step,
    triggers,
    workflow_files,
)

BOOTSTRAP = ROOT / "cloudformation" / "bootstrap.yaml"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
PREFIX = "repo:<Owner>/<Repo>:"


def presented_subjects():
    """``{(role output, subject)}`` for every job of every workflow that assumes a role."""
    found = set()
    for path in workflow_files():
        workflow = load_workflow(path)
        for name, job in workflow["jobs"].items():
            step = role_step(job)
            if step is None:
                continue
            role = step["with"]["role-to-assume"]
            env = environment_name(job)
            if "AWS_DEPLOY_ROLE_ARN" in role:
                assert env, f"{path.name}:{name}: a deploy role outside an environment"
                for stage in possible_values(workflow, job, env):
                    found.add((f"DeployRoleArn{stage.capitalize()}", f"environment:{stage}"))
            else:
                assert "AWS_PLAN_ROLE_ARN" in role, f"{path.name}:{name}: unknown role {role}"
                assert env is None, f"{path.name}:{name}: an environment changes the subject"
                # Whatever else triggers the workflow, the job itself runs for pull requests only.
                for event in triggers(workflow):
                    if event != "pull_request":
                        ctx = {"github": {"event_name": event}, "vars": {"AWS_PLAN_ROLE_ARN": "x"}}
                        assert not evaluate(job.get("if", "true"), ctx), f"{name} on {event}"
                found.add(("PlanRoleArn", "pull_request"))
    return found


def trust_problems(template, presented):
    """Every way ``template``'s trust conditions fail the subjects ``presented``; [] if none."""
    problems = []
    trust = oidc_trust(template)
    expected = {f"DeployRoleArn{s.capitalize()}": f"environment:{s}" for s in stages.NAMES}
    expected["PlanRoleArn"] = "pull_request"
    for output, subject in sorted(presented):
        if expected.get(output) != subject:
            problems.append(f"workflows present {subject} to {output}")
    for output, subject in sorted(expected.items()):
        try:
            role = output_role(template, output)
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        conditions = trust.get(role)
        if conditions is None:
            problems.append(f"{role} ({output}) is not assumable through GitHub OIDC")
            continue
        if conditions["like"]:
            problems.append(f"{role}: StringLike {conditions['like']} (use exact StringEquals)")
        if conditions["equals"].get(SUB) != [PREFIX + subject]:
            problems.append(f"{role}: trusts {conditions['equals'].get(SUB)}, not {subject}")
        if conditions["equals"].get(AUD) != ["sts.amazonaws.com"]:
            problems.append(f"{role}: audience {conditions['equals'].get(AUD)}")
    other = set(trust) - {output_role(template, o) for o in expected if o in template["Outputs"]}
    for role in sorted(other):
        problems.append(f"{role}: a GitHub-assumable role no workflow uses")
    return problems


def test_workflows_present_one_subject_per_stage_and_the_pull_request_subject():
    assert presented_subjects() == {
        *((f"DeployRoleArn{s.capitalize()}", f"environment:{s}") for s in stages.NAMES),
        ("PlanRoleArn", "pull_request"),
    }


@pytest.mark.skipif(
    not BOOTSTRAP.exists(),
    reason="cloudformation/bootstrap.yaml is not on this branch yet (written in parallel; "
    "the lead merges both, and then this test must pass)",
)
def test_bootstrap_trusts_exactly_the_subjects_the_workflows_present():
    assert trust_problems(load_template(BOOTSTRAP), presented_subjects()) == []


# --- the checker itself, on a small template shaped like the bootstrap --------------------
def _role(subject, operator="StringEquals"):
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": {"Ref": "GitHubOidcProvider"}},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            operator: {
                                AUD: "sts.amazonaws.com",
                                SUB: {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:" + subject},
                            }
                        },
                    }
                ]
            }
        },
    }


GOOD = {
    "Resources": {
        "DeployRoleDev": _role("environment:dev"),
        "DeployRoleProd": _role("environment:prod"),
        "PlanRole": _role("pull_request"),
    },
    "Outputs": {
        "DeployRoleArnDev": {"Value": {"Fn::GetAtt": ["DeployRoleDev", "Arn"]}},
        "DeployRoleArnProd": {"Value": {"Fn::GetAtt": ["DeployRoleProd", "Arn"]}},
        "PlanRoleArn": {"Value": {"Fn::GetAtt": ["PlanRole", "Arn"]}},
    },
}


def test_checker_accepts_exact_trust():
    assert trust_problems(GOOD, presented_subjects()) == []


def test_checker_rejects_a_wildcard_subject():
    bad = copy.deepcopy(GOOD)
    bad["Resources"]["PlanRole"] = _role("*", operator="StringLike")
    assert any("StringLike" in p for p in trust_problems(bad, presented_subjects()))


def test_checker_rejects_a_role_trusting_another_stage():
    bad = copy.deepcopy(GOOD)
    bad["Resources"]["DeployRoleDev"] = _role("environment:prod")
    assert trust_problems(bad, presented_subjects()) == [
        "DeployRoleDev: trusts ['repo:<Owner>/<Repo>:environment:prod'], not environment:dev"
    ]


def test_checker_rejects_outputs_pointing_at_the_wrong_role():
    bad = copy.deepcopy(GOOD)
    bad["Outputs"]["DeployRoleArnProd"]["Value"] = {"Fn::GetAtt": ["DeployRoleDev", "Arn"]}
    problems = trust_problems(bad, presented_subjects())
    assert (
        "DeployRoleDev: trusts ['repo:<Owner>/<Repo>:environment:dev'], not environment:prod"
        in (problems)
    )


def test_checker_reads_the_short_tag_yaml_form(tmp_path):
    path = tmp_path / "bootstrap.yaml"
    path.write_text(
        "Resources:\n"
        "  PlanRole:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      AssumeRolePolicyDocument:\n"
        "        Statement:\n"
        "          - Effect: Allow\n"
        "            Principal: {Federated: !Ref GitHubOidcProvider}\n"
        "            Action: sts:AssumeRoleWithWebIdentity\n"
        "            Condition:\n"
        "              StringEquals:\n"
        "                token.actions.githubusercontent.com:aud: sts.amazonaws.com\n"
        '                token.actions.githubusercontent.com:sub: !Sub "repo:${GitHubOrg}/'
        '${GitHubRepo}:pull_request"\n'
        "Outputs:\n"
        "  PlanRoleArn:\n"
        "    Value: !GetAtt PlanRole.Arn\n"
    )
    template = load_template(path)
    assert oidc_trust(template)["PlanRole"]["equals"][SUB] == [PREFIX + "pull_request"]
    assert output_role(template, "PlanRoleArn") == "PlanRole"
