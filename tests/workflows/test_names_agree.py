"""Stage, stack, target and command names agree across the workflows, the Makefile, ops and the
templates, so renaming one without the others fails here rather than in a deploy."""

import re

import pytest

from ops import stages
from tests.workflows.model import (
    ROOT,
    environment_name,
    load_template,
    load_workflow,
    make_targets,
    output_role,
    role_step,
    run_lines,
    steps,
    workflow_files,
)

# The fixed command names (the team brief); each is a module ops/<name>.py when it exists.
OPS_COMMANDS = {
    "stack-deploy",
    "plan",
    "package-api",
    "deploy-api",
    "migrate",
    "smoke",
    "destroy",
    "patch",
    "drift",
    "run",
}
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


def test_makefile_accepts_exactly_the_ops_stages():
    text = (ROOT / "Makefile").read_text()
    listed = re.search(r"\$\(filter \$\(STAGE\),([\w ]+)\)", text).group(1).split()
    assert tuple(listed) == stages.STAGES


def test_stage_targets_name_the_stage_stacks():
    assert "--stack-name pets-$(STAGE)-infra" in " ".join(TARGETS["deploy-infra"])
    assert stages.stack_name("dev", "infra") == "pets-dev-infra"
    assert [s.name for s in stages.stacks("prod")] == ["pets-prod-infra", "pets-prod-api"]
    for target, command in [
        ("migrate-stage", "migrate"),
        ("deploy-api", "deploy-api"),
        ("smoke", "smoke"),
        ("drift", "drift"),
        ("plan", "plan"),
    ]:
        assert f"-m ops {command} --stage $(STAGE)" in " ".join(TARGETS[target]), target


@pytest.mark.skipif(
    not (ROOT / "cloudformation" / "infra.yaml").exists(),
    reason="cloudformation/infra.yaml is not on this branch yet (written in parallel)",
)
def test_infra_template_accepts_exactly_the_ops_stages():
    template = load_template(ROOT / "cloudformation" / "infra.yaml")
    assert tuple(template["Parameters"]["Stage"]["AllowedValues"]) == stages.STAGES


@pytest.mark.skipif(
    not (ROOT / "cloudformation" / "bootstrap.yaml").exists(),
    reason="cloudformation/bootstrap.yaml is not on this branch yet (written in parallel)",
)
def test_bootstrap_exports_a_deploy_role_and_an_execution_role_per_stage():
    outputs = load_template(ROOT / "cloudformation" / "bootstrap.yaml")["Outputs"]
    deploy_roles = {name for name in outputs if name.startswith("DeployRoleArn")}
    assert deploy_roles == {f"DeployRoleArn{s.capitalize()}" for s in stages.STAGES}
    for stage in stages.STAGES:
        assert f"ExecutionRoleArn{stage.capitalize()}" in outputs
    resources = load_template(ROOT / "cloudformation" / "bootstrap.yaml")["Resources"]
    names = {r.get("Properties", {}).get("RoleName") for r in resources.values()}
    # Makefile's CFN_ROLE_ARN builds the execution role's ARN from this name.
    for stage in stages.STAGES:
        assert f"pets-cfn-exec-{stage}" in names
    assert "role/pets-cfn-exec-$(STAGE)" in (ROOT / "Makefile").read_text()


@pytest.mark.skipif(
    not (ROOT / "cloudformation" / "bootstrap.yaml").exists(),
    reason="cloudformation/bootstrap.yaml is not on this branch yet (written in parallel)",
)
def test_requested_session_lengths_fit_the_roles():
    """AssumeRoleWithWebIdentity fails outright if a job asks for more than the role allows."""
    template = load_template(ROOT / "cloudformation" / "bootstrap.yaml")

    def allowed(output):
        role = template["Resources"][output_role(template, output)]
        return role["Properties"].get("MaxSessionDuration", 3600)

    checked = 0
    for path in workflow_files():
        for name, job in load_workflow(path)["jobs"].items():
            step = role_step(job)
            if step is None:
                continue
            asked = int(step["with"].get("role-duration-seconds", 3600))
            env = environment_name(job)
            outputs = (
                [f"DeployRoleArn{s.capitalize()}" for s in stages.STAGES]
                if env
                else ["PlanRoleArn"]
            )
            for output in outputs:
                assert asked <= allowed(output), f"{path.name}:{name} asks {asked} s of {output}"
                checked += 1
    assert checked
