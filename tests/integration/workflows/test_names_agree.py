"""The workflows call make targets that exist, the make targets and workflows call ops commands
that exist, and every stage ops defines is one the templates and roles accept: renaming one
side fails here rather than in a deploy."""

import re

import pytest

from ops import stages
from ops.cli import COMMANDS
from tests.support.workflows import (
    ROOT,
    load_template,
    load_workflow,
    make_targets,
    role_steps,
    role_variable,
    run_lines,
    steps,
    workflow_files,
)

OPS_COMMANDS = set(COMMANDS)
# The roles GitHub jobs assume, pets-github-<kind>-<stage>: deploy in the stage's environment;
# preview, drift and patch of the stage with no environment; plan and release for the repository.
ROLE_KINDS = ("deploy", "preview", "drift", "patch", "plan", "release")
TARGETS = make_targets()


def workflow_commands():
    for path in workflow_files():
        for job in load_workflow(path)["jobs"].values():
            for step in steps(job):
                yield from run_lines(step)


def test_every_make_target_a_workflow_calls_exists():
    called = {line.split()[1] for line in workflow_commands() if line.startswith("make ")}
    assert called, "no make calls found"
    assert called - set(TARGETS) == set()


def test_make_targets_call_only_known_ops_commands():
    for target, recipe in TARGETS.items():
        for line in recipe:
            for command in re.findall(r"-m ops ([\w-]+)", line):
                assert command in OPS_COMMANDS, f"make {target}: unknown ops command {command}"


def test_ops_commands_called_directly_by_workflows_are_known():
    for line in workflow_commands():
        if match := re.match(r"^(?:\.venv/bin/)?python -m ops ([\w-]+)", line):
            assert match.group(1) in OPS_COMMANDS, line


def test_stage_targets_hand_the_stage_to_ops():
    for target, command in [
        ("deploy-infra", "deploy-infra"),
        ("migrate-stage", "migrate"),
        ("deploy-api", "deploy-api"),
        ("smoke", "smoke"),
        ("drift", "drift"),
        ("plan", "plan"),
    ]:
        assert f"-m ops {command} --stage $(STAGE)" in " ".join(TARGETS[target]), target


@pytest.mark.parametrize("template", ["infra.yaml", "api/merge.yaml"])
def test_templates_accept_every_ops_stage(template):
    pattern = load_template(ROOT / "cloudformation" / template)["Parameters"]["Stage"]
    for name in stages.NAMES:
        assert re.fullmatch(pattern["AllowedPattern"], name), (template, name)


def test_the_stage_bootstrap_exports_what_ops_reads_and_names_the_roles_it_expects():
    template = load_template(ROOT / "cloudformation" / "bootstrap-stage.yaml")
    assert {
        "DeployRoleArn",
        "ExecutionRoleArn",
        "ArtifactsBucket",
        "PlanRoleArn",
        "ReleaseRoleArn",
    } <= set(template["Outputs"])
    names = {
        r.get("Properties", {}).get("RoleName", {}).get("Fn::Sub")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    }
    assert names == {
        "pets-cfn-exec-${Stage}",
        *(f"pets-github-{kind}-${{Stage}}" for kind in ROLE_KINDS),
    }


def test_requested_session_lengths_fit_the_roles():
    """AssumeRoleWithWebIdentity fails outright if a job asks for more than the role allows."""
    template = load_template(ROOT / "cloudformation" / "bootstrap-stage.yaml")
    by_name = {
        r.get("Properties", {}).get("RoleName", {}).get("Fn::Sub"): r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    }
    checked = 0
    for path in workflow_files():
        for name, job in load_workflow(path)["jobs"].items():
            for step in role_steps(job):
                kind, _ = role_variable(step)
                role = by_name[f"pets-github-{kind}-${{Stage}}"]
                asked = int(step["with"].get("role-duration-seconds", 3600))
                allowed = role.get("MaxSessionDuration", 3600)
                assert asked <= allowed, f"{path.name}:{name} asks {asked} s of the {kind} role"
                checked += 1
    assert checked
