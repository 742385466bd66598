"""Preview a stage, then execute exactly those change sets by ARN (moto), and the refusals when
anything changed in between (moto, or a Stubber where moto cannot make the state: it never marks
a change set OBSOLETE and records no ChangeSetId on a stack)."""

import base64
import datetime
import hashlib
import json

import boto3
import pytest

from ops.cfn import preview, specs
from ops.cli import main
from tests.support.apistack import PEM, make_infra, make_package
from tests.support.aws import bootstrap_stage, lambda_account, make_context, stubbed_client
from tests.support.gitrepo import git_in, make_history
from tests.support.http import answering

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def _cf():
    return boto3.client("cloudformation", region_name="us-east-1")


@pytest.fixture
def stage(aws, tmp_path):
    """A bootstrapped stage, stand-in templates and a repository whose HEAD is deployed."""
    make_infra(tmp_path)
    package = make_package(tmp_path)
    bootstrap_stage("artifacts")
    repo = tmp_path / "repo"
    commits = make_history(repo)
    # Lambda's GetAccountSettings is not in moto: a Stubber answers the one call a preview makes.
    lambda_client, _ = lambda_account(total=1000, unreserved=1000)
    ctx = make_context(
        {"lambda": lambda_client},
        rest_from_boto3=True,
        git=git_in(repo),
        fetch=answering(PEM),
        env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
    )
    return ctx, tmp_path, package, commits["newer"]


def _preview(ctx, root, package, commit):
    record, text = preview.preview(
        ctx, "dev", commit, specs.Sources(package_dir=package), root=root
    )
    path = root / "build" / "preview-dev.json"
    preview.write(record, path)
    return record, text, path


def test_preview_keeps_every_change_set_and_executes_exactly_those(stage):
    ctx, root, package, commit = stage
    record, text, path = _preview(ctx, root, package, commit)
    assert text.startswith(f"## Preview of stage `dev` at `{commit[:12]}`")
    assert "### `pets-dev-infra`: create, 1 change(s)" in text
    assert "### `pets-dev-api`: create, 2 change(s)" in text
    arns = {e["part"]: e["change_set"] for e in record["stacks"]}
    for part, name in (("infra", "pets-dev-infra"), ("api", "pets-dev-api")):
        summaries = _cf().list_change_sets(StackName=name)["Summaries"]
        (kept,) = [s for s in summaries if s["StackName"] == name]  # moto lists every stack's
        assert kept["ChangeSetId"] == arns[part]
        assert kept["ExecutionStatus"] == "AVAILABLE"
    # The preview wrote nothing a host or function reads: the change sets only name the keys.
    assert _keys() == []
    named = {e["part"]: [a["key"] for a in e["artifacts"]] for e in record["stacks"]}
    (requirements,) = named["infra"]
    assert requirements.startswith("migrations/requirements-")
    assert sorted(k.split("/")[0] for k in named["api"]) == ["api", "rds-ca"]

    assert main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx) == 0, (
        ctx.err.getvalue()
    )
    # The approved deploy uploaded what the infra change set names, then executed it.
    assert _keys() == [requirements]
    assert f"executing the change set previewed for pets-dev-infra at {commit[:12]}" in (
        ctx.out.getvalue()
    )
    infra = _cf().describe_stacks(StackName="pets-dev-infra")["Stacks"][0]
    assert infra["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in infra["Parameters"]}[
        "SourceCommit"
    ] == commit
    # moto computes no outputs for a stack made by a change set, so no EndpointURL to print.
    preview.execute(ctx, "dev", "api", path, commit, package_dir=package, root=root)
    executed = _cf().describe_change_set(ChangeSetName=arns["api"])
    assert executed["ExecutionStatus"] == "EXECUTE_COMPLETE"
    assert _keys() == sorted([requirements, *named["api"]])
    # Each with S3's checksum of the bytes this build holds.
    zip_key = next(k for k in named["api"] if k.startswith("api/"))
    head = _s3().head_object(Bucket="artifacts", Key=zip_key, ChecksumMode="ENABLED")
    digest = hashlib.sha256((package / "deployment.zip").read_bytes()).digest()
    assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()


def _s3():
    return boto3.client("s3", region_name="us-east-1")


def _keys():
    """Every key in the stage's bucket but plan/ (a preview's own templates)."""
    listed = _s3().list_objects_v2(Bucket="artifacts").get("Contents", [])
    return sorted(o["Key"] for o in listed if not o["Key"].startswith("plan/"))


def _uploaded_before(package):
    """This build's zip already in the (now versioned) bucket: ``(key, version id)``."""
    data = (package / "deployment.zip").read_bytes()
    key = f"api/{hashlib.sha256(data).hexdigest()}.zip"
    _s3().put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    answer = _s3().put_object(Bucket="artifacts", Key=key, Body=data, ChecksumAlgorithm="SHA256")
    return key, answer["VersionId"]


def test_a_preview_pins_the_version_the_bucket_already_holds(stage):
    ctx, root, package, commit = stage
    key, version = _uploaded_before(package)
    record, _, path = _preview(ctx, root, package, commit)
    (api,) = [e for e in record["stacks"] if e["part"] == "api"]
    (named,) = [a for a in api["artifacts"] if a["key"] == key]
    assert named["version"] == version
    # moto's GetTemplate takes no change set: what the executed change set deployed says it.
    assert main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx) == 0
    preview.execute(ctx, "dev", "api", path, commit, package_dir=package, root=root)
    template = _cf().get_template(StackName="pets-dev-api")["TemplateBody"]
    text = template if isinstance(template, str) else json.dumps(template)
    assert key in text and version in text
    assert len(_s3().list_object_versions(Bucket="artifacts", Prefix=key)["Versions"]) == 1


def test_a_build_other_than_the_previewed_one_is_refused_before_anything_runs(stage):
    ctx, root, package, commit = stage
    record, _, path = _preview(ctx, root, package, commit)
    main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx)
    (package / "deployment.zip").write_bytes(b"another build")
    assert main(["deploy-api", "--stage", "dev", "--from", str(path),
                 "--package-dir", str(package)], ctx) == 1  # fmt: skip
    line = ctx.err.getvalue().splitlines()[-1]
    assert line.startswith("deploy-api: deployment.zip of this build is not the one previewed")
    assert not [k for k in _keys() if k.startswith("api/")]
    (api,) = [e for e in record["stacks"] if e["part"] == "api"]
    assert _cf().describe_change_set(ChangeSetName=api["change_set"])["ExecutionStatus"] == (
        "AVAILABLE"
    )


def test_a_pinned_version_that_is_gone_is_refused_after_the_upload(stage):
    ctx, root, package, commit = stage
    key, version = _uploaded_before(package)
    record, _, path = _preview(ctx, root, package, commit)
    main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx)
    # The version the change set pins is deleted before the approval.
    _s3().delete_object(Bucket="artifacts", Key=key, VersionId=version)
    assert main(["deploy-api", "--stage", "dev", "--from", str(path),
                 "--package-dir", str(package)], ctx) == 1  # fmt: skip
    line = ctx.err.getvalue().splitlines()[-1]
    assert line == (
        f"deploy-api: s3://artifacts/{key} version {version} does not hold this build's "
        f"deployment.zip (SHA-256 {key[4:16]}): pets-dev-api not executed"
    )
    (api,) = [e for e in record["stacks"] if e["part"] == "api"]
    assert _cf().describe_change_set(ChangeSetName=api["change_set"])["ExecutionStatus"] == (
        "AVAILABLE"
    )


def test_a_stack_updated_after_the_preview_is_refused(stage):
    ctx, root, package, commit = stage
    _cf().create_stack(StackName="pets-dev-infra", TemplateBody=make_infra(root).read_text(),
                       Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}])  # fmt: skip
    record, _, path = _preview(ctx, root, package, commit)
    # Someone updates the stack by other means between the preview and the approval.
    _cf().update_stack(
        StackName="pets-dev-infra",
        TemplateBody=make_infra(root).read_text().replace("infra-events", "infra-other"),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    assert main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx) == 1
    (line,) = ctx.err.getvalue().splitlines()
    assert line.startswith("deploy-infra: pets-dev-infra changed after the preview")
    assert line.endswith("preview again and approve what it shows")
    (kept,) = [e for e in record["stacks"] if e["part"] == "infra"]
    assert _cf().describe_change_set(ChangeSetName=kept["change_set"])["ExecutionStatus"] == (
        "AVAILABLE"
    )  # refused: not executed


def test_a_preview_of_another_commit_or_stage_is_refused(stage, tmp_path):
    ctx, root, package, commit = stage
    _, _, path = _preview(ctx, root, package, commit)
    record = json.loads(path.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**record, "commit": "a" * 40}))
    assert main(["deploy-infra", "--stage", "dev", "--from", str(other)], ctx) == 1
    assert f"previews commit aaaaaaaaaaaa, but this checkout is {commit[:12]}" in ctx.err.getvalue()
    assert main(["deploy-infra", "--stage", "prod", "--from", str(path)], ctx) == 1
    assert "previews stage 'dev', not 'prod'" in ctx.err.getvalue()
    other.write_text("{not json")
    assert main(["deploy-api", "--stage", "dev", "--from", str(other)], ctx) == 1
    assert "is not JSON" in ctx.err.getvalue().splitlines()[-1]


CS = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/ops-preview-1/1"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/pets-dev-infra/1"
UPDATED = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def _stack(**extra):
    return {
        "StackName": "pets-dev-infra",
        "StackId": STACK_ID,
        "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        "LastUpdatedTime": UPDATED,
        **extra,
    }


def _file(tmp_path, commit):
    path = tmp_path / "preview.json"
    entry = {
        "part": "infra",
        "stack": "pets-dev-infra",
        "change_set": CS,
        "type": "UPDATE",
        "empty": False,
        "stack_id": STACK_ID,
        "state": preview.stack_state(_stack()),
    }
    preview.write({"format": 1, "stage": "dev", "commit": commit, "stacks": [entry]}, path)
    return path


def _stubbed(tmp_path, execution_status, stack):
    repo = tmp_path / "repo"
    commit = make_history(repo)["newer"]
    client, stub = stubbed_client("cloudformation")
    stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "pets-dev-infra"})
    stub.add_response(
        "describe_change_set",
        {"ChangeSetId": CS, "Status": "CREATE_COMPLETE", "ExecutionStatus": execution_status},
        {"ChangeSetName": CS},
    )
    return make_context({"cloudformation": client}, git=git_in(repo)), stub, _file(tmp_path, commit)


def test_an_obsolete_change_set_is_refused_in_one_line(tmp_path):
    ctx, stub, path = _stubbed(tmp_path, "OBSOLETE", _stack())
    with stub:
        assert main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx) == 1
        stub.assert_no_pending_responses()  # and no ExecuteChangeSet
    assert ctx.err.getvalue() == (
        "deploy-infra: the previewed change set of pets-dev-infra is OBSOLETE: the stack was "
        "updated after the preview; preview again and approve what it shows\n"
    )


def test_a_rerun_after_the_change_set_ran_is_already_done(tmp_path):
    ctx, stub, path = _stubbed(tmp_path, "EXECUTE_COMPLETE", _stack(ChangeSetId=CS))
    with stub:
        assert main(["deploy-infra", "--stage", "dev", "--from", str(path)], ctx) == 0
        stub.assert_no_pending_responses()
    assert "executed already; nothing to do" in ctx.out.getvalue()


def test_a_change_set_that_is_gone_is_refused(tmp_path):
    repo = tmp_path / "repo"
    commit = make_history(repo)["newer"]
    client, stub = stubbed_client("cloudformation")
    stub.add_response("describe_stacks", {"Stacks": [_stack()]}, None)
    stub.add_client_error(
        "describe_change_set", "ChangeSetNotFound", "ChangeSet [x] does not exist"
    )
    ctx = make_context({"cloudformation": client}, git=git_in(repo))
    with stub:
        assert (
            main(["deploy-infra", "--stage", "dev", "--from", str(_file(tmp_path, commit))], ctx)
            == 1
        )
    assert "no longer exists" in ctx.err.getvalue()
