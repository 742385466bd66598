"""The docs that describe the templates name the same defaults and outputs the templates have.

docs/cost.md prices the template defaults, docs/deploy.md lists the bootstrap outputs and
docs/developer-access.md the developer policy's output: a changed default or a renamed output
must change the doc in the same commit, or this fails.
"""

from tests.support.templates import ROOT, chalice_config, load

DOCS = ROOT / "docs"


def test_cost_doc_prices_the_template_defaults(infra):
    text = (DOCS / "cost.md").read_text()
    parameters = infra["Parameters"]
    assert f"`{parameters['HostInstanceType']['Default']}` host" in text
    assert f"{parameters['HostVolumeSizeGiB']['Default']} GiB gp3" in text
    assert f"minimum of\n{parameters['DbMinCapacity']['Default']} ACU" in text
    assert f"after {parameters['DbSecondsUntilAutoPause']['Default']} s" in text
    assert f"maximum of {parameters['DbMaxCapacity']['Default']} ACU" in text
    assert f"{chalice_config()['lambda_memory_size']} MB Lambda" in text
    alarms = [
        r for r in load("api/merge.yaml")["Resources"].values() if r["Type"].endswith("::Alarm")
    ]
    assert len(alarms) == 4 and "four CloudWatch alarms" in text
    wait_timeout = infra["Resources"]["DbParameterGroup"]["Properties"]["Parameters"][
        "wait_timeout"
    ]
    assert f"`wait_timeout={wait_timeout}`" in text


def test_deploy_doc_names_every_bootstrap_output(bootstrap):
    text = (DOCS / "deploy.md").read_text()
    assert "## Bootstrap an account" in text and "## Configure GitHub" in text
    for output in bootstrap["Outputs"]:
        assert output in text, output
    for variable in ("AWS_REGION", "AWS_PLAN_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN"):
        assert variable in text, variable


def test_developer_access_doc_uses_the_policy_output_and_the_forwarding_document(infra):
    text = (DOCS / "developer-access.md").read_text()
    assert "DeveloperAccessPolicyArn" in text and "DeveloperAccessPolicyArn" in infra["Outputs"]
    assert "AWS-StartPortForwardingSessionToRemoteHost" in text
    wait_timeout = infra["Resources"]["DbParameterGroup"]["Properties"]["Parameters"][
        "wait_timeout"
    ]
    assert f"wait_timeout={wait_timeout}" in text
