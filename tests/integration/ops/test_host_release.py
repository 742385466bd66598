"""``python -m ops host-release``: the newest release from AWS, and the pull request that pins it.

Reading: botocore Stubber plays SSM GetParameter and EC2 DescribeImages, because moto cannot
hold a parameter under ``/aws/service/`` (the prefix is AWS's own) with an Amazon Linux image
name behind it. Proposing: a fake ``gh`` first on ``PATH`` (tests/support/gh.py) records
every call and answers GitHub's REST API the way it answers these calls.
"""

import base64
import json

import boto3
import pytest
from botocore.stub import Stubber

from ops import stages
from ops.cli import main
from ops.commands.host_release import PIN_FILE, current_pin
from tests.support.aws import REGION, make_context
from tests.support.gh import FakeGh

PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
IMAGE = "ami-0abcdef1234567890"
PINNED = stages.HOST_OS_RELEASE
NEWER = "2023.99.20991231"
BASE_SHA = "a" * 40
BLOB_SHA = "b" * 40
PR_URL = "https://github.com/owner/pets/pull/42"
STAGES_ON_MAIN = f'"""the stages"""\n\nX = 1\nHOST_OS_RELEASE = "{PINNED}"\nY = 2\n'


def aws_world(image_name, tmp_path):
    ssm, ec2 = (boto3.client(name, region_name=REGION) for name in ("ssm", "ec2"))
    ssm_stub, ec2_stub = Stubber(ssm), Stubber(ec2)
    ssm_stub.add_response(
        "get_parameter",
        {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": IMAGE}},
        {"Name": PARAMETER},
    )
    ec2_stub.add_response(
        "describe_images",
        {"Images": [{"ImageId": IMAGE, "Name": image_name}]},
        {"ImageIds": [IMAGE]},
    )
    outputs = tmp_path / "github-output"
    ctx = make_context({"ssm": ssm, "ec2": ec2}, env={"GITHUB_OUTPUT": str(outputs)})
    return ctx, (ssm_stub, ec2_stub), outputs


def run_read(ctx, stubs):
    with stubs[0], stubs[1]:
        code = main(["host-release"], ctx)
    for stub in stubs:
        stub.assert_no_pending_responses()
    return code


def test_a_newer_release_is_reported_and_set_as_step_outputs(tmp_path):
    ctx, stubs, outputs = aws_world(f"al2023-ami-{NEWER}.0-kernel-6.1-arm64", tmp_path)

    assert run_read(ctx, stubs) == 0

    assert outputs.read_text().splitlines() == [
        f"pinned={PINNED}",
        f"newest={NEWER}",
        "newer=true",
    ]
    out = ctx.out.getvalue()
    assert f"pinned {PINNED}; newest from AWS {NEWER}" in out
    assert f"propose it with --propose {NEWER}" in out


def test_the_pinned_release_itself_is_current(tmp_path):
    ctx, stubs, outputs = aws_world(f"al2023-ami-{PINNED}.0-kernel-6.1-arm64", tmp_path)

    assert run_read(ctx, stubs) == 0

    assert "newer=false" in outputs.read_text().splitlines()
    assert "the pin is current" in ctx.out.getvalue()


def test_an_image_name_without_a_release_is_one_line(tmp_path):
    ctx, stubs, _ = aws_world("my-own-image", tmp_path)

    assert run_read(ctx, stubs) == 1

    assert ctx.err.getvalue() == (
        f"host-release: no release version in the name of {IMAGE} ('my-own-image')\n"
    )


def test_no_access_to_the_public_parameter_is_one_line(tmp_path):
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.add_client_error(
        "get_parameter", "AccessDeniedException", "not authorized to perform: ssm:GetParameter"
    )
    ctx = make_context({"ssm": ssm, "ec2": boto3.client("ec2", region_name=REGION)})
    with stub:
        assert main(["host-release"], ctx) == 1
    assert ctx.err.getvalue().count("\n") == 1
    assert ctx.err.getvalue().startswith(
        "host-release: cannot read the newest Amazon Linux 2023 image: "
    )


# ---------------------------------------------------------------- proposing, through gh
def github_answers(*, open_prs=(), ref_exists=False):
    content = base64.b64encode(STAGES_ON_MAIN.encode()).decode()
    wrapped = "\n".join(content[i : i + 60] for i in range(0, len(content), 60))  # as GitHub
    create_ref = {"args": ["api", "repos/{owner}/{repo}/git/refs"], "stdout": "{}"}
    if ref_exists:
        create_ref = {
            **create_ref,
            "stdout": "",
            "stderr": "gh: Reference already exists (HTTP 422)\n",
            "code": 1,
        }
    return [
        {"args": ["pr", "list"], "stdout": json.dumps([{"url": u} for u in open_prs])},
        {"args": ["api", "repos/{owner}/{repo}/git/ref/heads/main"], "stdout": BASE_SHA + "\n"},
        {
            "args": ["api", f"repos/{{owner}}/{{repo}}/contents/ops/stages.py?ref={BASE_SHA}"],
            "stdout": json.dumps({"sha": BLOB_SHA, "content": wrapped}),
        },
        create_ref,
        {"args": ["api", "-X", "PATCH"], "stdout": "{}"},
        {"args": ["api", "-X", "PUT"], "stdout": "{}"},
        {"args": ["pr", "create"], "stdout": f"Creating pull request...\n{PR_URL}\n"},
    ]


def propose(tmp_path, release, gh=None, path=None):
    env = {
        **(gh.env() if gh is not None else {"PATH": path}),
        "GH_TOKEN": "ghs_not_a_real_token",  # pragma: allowlist secret -- a placeholder
        "GH_REPO": "owner/pets",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    ctx = make_context({}, env=env)  # no AWS client at all: proposing never touches AWS
    return main(["host-release", "--propose", release], ctx), ctx


def fields(args):
    """``{name: value}`` of the ``-f``/``-F`` fields of a ``gh api`` call."""
    found = {}
    for flag, value in zip(args, args[1:], strict=False):
        if flag in ("-f", "-F"):
            name, _, text = value.partition("=")
            found[name] = text
    return found


def test_propose_commits_the_new_pin_on_a_branch_from_main_and_opens_a_pull_request(tmp_path):
    gh = FakeGh(tmp_path / "gh", responses=github_answers())

    code, ctx = propose(tmp_path, NEWER, gh)

    assert code == 0, ctx.err.getvalue()
    calls = [call["args"] for call in gh.calls()]
    assert [c[:2] for c in calls] == [
        ["pr", "list"],
        ["api", "repos/{owner}/{repo}/git/ref/heads/main"],
        ["api", f"repos/{{owner}}/{{repo}}/contents/ops/stages.py?ref={BASE_SHA}"],
        ["api", "repos/{owner}/{repo}/git/refs"],
        ["api", "-X"],
        ["pr", "create"],
    ]
    branch = f"host-release/{NEWER}"
    assert calls[0][2:] == ["--head", branch, "--state", "open", "--json", "url"]
    assert fields(calls[3]) == {"ref": f"refs/heads/{branch}", "sha": BASE_SHA}
    put = calls[4]
    assert put[2:4] == ["PUT", "repos/{owner}/{repo}/contents/ops/stages.py"]
    written = fields(put)
    assert written["sha"] == BLOB_SHA and written["branch"] == branch  # based on main's file
    assert written["message"] == f"Pin the hosts' Amazon Linux 2023 release to {NEWER}"
    # main's file with the pin changed, and nothing else.
    assert base64.b64decode(written["content"]).decode() == STAGES_ON_MAIN.replace(PINNED, NEWER)
    create = calls[5]
    assert create[create.index("--base") + 1] == "main"
    assert create[create.index("--head") + 1] == branch
    assert NEWER in create[create.index("--title") + 1]
    assert PINNED in create[create.index("--body") + 1]
    assert all(call["token"] and call["repo"] == "owner/pets" for call in gh.calls())
    assert f"host-release: pull request opened: {PR_URL}" in ctx.out.getvalue()
    assert PR_URL in (tmp_path / "summary.md").read_text()


def test_an_open_pull_request_for_the_release_is_named_not_duplicated(tmp_path):
    gh = FakeGh(tmp_path / "gh", responses=github_answers(open_prs=[PR_URL]))

    code, ctx = propose(tmp_path, NEWER, gh)

    assert code == 0
    assert [call["args"][:2] for call in gh.calls()] == [["pr", "list"]]
    assert f"pull request already open: {PR_URL}" in ctx.out.getvalue()


def test_a_branch_left_by_a_closed_proposal_is_reset_to_main(tmp_path):
    gh = FakeGh(tmp_path / "gh", responses=github_answers(ref_exists=True))

    code, ctx = propose(tmp_path, NEWER, gh)

    assert code == 0, ctx.err.getvalue()
    reset = next(c["args"] for c in gh.calls() if c["args"][:3] == ["api", "-X", "PATCH"])
    assert reset[3] == f"repos/{{owner}}/{{repo}}/git/refs/heads/host-release/{NEWER}"
    assert fields(reset) == {"sha": BASE_SHA, "force": "true"}


def test_a_release_that_is_not_newer_changes_nothing(tmp_path):
    gh = FakeGh(tmp_path / "gh", responses=github_answers())

    code, ctx = propose(tmp_path, PINNED, gh)

    assert code == 0
    assert gh.calls() == []
    assert "is not newer than the pinned" in ctx.out.getvalue()


@pytest.mark.parametrize("release", ["latest", "2023.9", "2023.9.20251117; rm -rf /"])
def test_a_release_that_is_not_a_release_is_refused_in_one_line(tmp_path, release):
    gh = FakeGh(tmp_path / "gh", responses=github_answers())

    code, ctx = propose(tmp_path, release, gh)

    assert code == 1
    assert gh.calls() == []
    assert ctx.err.getvalue().count("\n") == 1
    assert "is not an Amazon Linux 2023 release" in ctx.err.getvalue()


def test_a_failing_gh_call_is_one_line_with_its_error(tmp_path):
    answers = github_answers()
    answers[5] = {
        "args": ["api", "-X", "PUT"],
        "stderr": "gh: Resource not accessible\n",
        "code": 1,
    }
    gh = FakeGh(tmp_path / "gh", responses=answers)

    code, ctx = propose(tmp_path, NEWER, gh)

    assert code == 1
    assert ctx.err.getvalue() == "host-release: gh api -X: gh: Resource not accessible\n"


def test_without_gh_installed_it_says_so(tmp_path):
    code, ctx = propose(tmp_path, NEWER, path=str(tmp_path / "empty"))

    assert code == 1
    assert ctx.err.getvalue() == (
        "host-release: the GitHub CLI (gh) is not installed: https://cli.github.com\n"
    )


def test_the_pin_the_workflow_rewrites_is_the_one_deploy_infra_sends():
    text = (stages.ROOT / PIN_FILE).read_text(encoding="utf-8")
    assert current_pin(text) == stages.stack("dev", "infra").parameters["HostOsRelease"]
