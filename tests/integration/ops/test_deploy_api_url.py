"""deploy-api hands the endpoint to GitHub Actions as the step output ``url``: the deploy job's
environment URL reads it (``environment.url: ${{ steps.api.outputs.url }}``)."""

import pytest

from ops.commands.deploy_api import announce_endpoint
from ops.errors import OpsError
from tests.support.aws import make_context

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api/"


def test_the_endpoint_is_appended_to_the_step_outputs(tmp_path):
    outputs = tmp_path / "output"
    outputs.write_text("earlier=1\n")  # other steps' outputs stay
    ctx = make_context(env={"GITHUB_OUTPUT": str(outputs)})
    assert announce_endpoint(ctx, "prod", {"EndpointURL": URL}) == URL
    assert outputs.read_text().splitlines() == ["earlier=1", f"url={URL}"]


def test_outside_actions_nothing_is_written(tmp_path):
    ctx = make_context(env={})
    assert announce_endpoint(ctx, "dev", {"EndpointURL": URL}) == URL
    assert list(tmp_path.iterdir()) == []
    assert f"endpoint: {URL}" in ctx.out.getvalue()


def test_a_stack_without_the_output_sets_none(tmp_path):
    outputs = tmp_path / "output"
    ctx = make_context(env={"GITHUB_OUTPUT": str(outputs)})
    with pytest.raises(OpsError, match="EndpointURL"):
        announce_endpoint(ctx, "dev", {})
    assert not outputs.exists()


def test_only_previewed_sets_none(tmp_path):
    outputs = tmp_path / "output"
    ctx = make_context(env={"GITHUB_OUTPUT": str(outputs)})
    assert announce_endpoint(ctx, "dev", None) is None
    assert not outputs.exists()
