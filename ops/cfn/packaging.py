"""Packaging the API stack offline: ``chalice package`` with the merge template, then checked.

Runs ``chalice package --merge-template cloudformation/api/merge.yaml --template-format yaml``
on ``chalice_app/`` and writes ``build/api/sam.yaml`` and ``build/api/deployment.zip`` (the
template's ``CodeUri`` is ``./deployment.zip``; the deploy uploads it).

Offline means no AWS call: Chalice only needs a region name to build its configuration, and the
template it writes uses ``${AWS::Region}``, so any region name gives the same template. Everything
stage-specific (subnets, security group, database endpoint, artifacts bucket) is an
``Fn::ImportValue`` in the merge template, resolved by CloudFormation at deploy time, so the same
package is promoted from dev to prod. Building the zip may fetch the Lambda's wheels from PyPI
the first time (Chalice caches them in ``chalice_app/.chalice/deployments``).

After packaging, the template is checked for what the merge must have added (the VPC settings,
the role, the database variables), because Chalice merges silently and a renamed resource would
otherwise ship a Lambda that cannot reach its database.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ops.errors import OpsError

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "chalice_app"
MERGE_TEMPLATE = ROOT / "cloudformation" / "api" / "merge.yaml"
DEFAULT_OUT = ROOT / "build" / "api"
# Any region name works (see the module docstring); this one is used only when none is set.
FALLBACK_REGION = "us-east-1"
ALIAS = "live"  # the Lambda alias API Gateway calls and CodeDeploy moves
REQUIRED_VARIABLES = (
    "DB_HOST",
    "DB_FALLBACK_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_AUTH",
    "DB_SSL_CA",
)


def package(stage, out, ctx, chalice=None):
    """Run ``chalice package``; return the paths of the template and the zip it wrote."""
    chalice = chalice or str(Path(sys.executable).with_name("chalice"))
    if out.exists():
        # Chalice adds to an existing directory; a stale zip must never be deployed.
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # chalice package zips every file under chalicelib/, bytecode caches included: after any test
    # run that is ~15 KB of .pyc built for this machine's Python, stamped with zip times that
    # never validate, close to doubling chalicelib in the zip (docs/performance.md). Caches are
    # rebuilt on the next import, so they are removed rather than shipped.
    for cache in sorted(APP_DIR.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    env = dict(ctx.env)
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", FALLBACK_REGION))
    # Belt and braces for "offline": nothing may ask the instance metadata service for credentials.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    command = [
        chalice,
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(MERGE_TEMPLATE),
        "--template-format",
        "yaml",
        str(out),
    ]
    ctx.say(f"package-api: chalice package --stage {stage} -> {out}")
    try:
        # A fixed argument list (no shell); only the stage (from a fixed choice) and paths vary.
        result = subprocess.run(  # noqa: S603
            command, cwd=APP_DIR, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise OpsError(f"package-api: cannot run {chalice}: {exc.strerror}") from exc
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise OpsError(f"package-api: chalice package failed: {reason}")
    template_path, zip_path = out / "sam.yaml", out / "deployment.zip"
    for path in (template_path, zip_path):
        if not path.is_file():
            raise OpsError(f"package-api: chalice package wrote no {path.name}")
    return template_path, zip_path


def load_template(path):
    """Load the packaged template. Chalice writes it with ``yaml.safe_dump``, so every
    intrinsic is in its long form (``Fn::Sub``, ``Ref``) and no custom tag needs a loader."""
    return yaml.safe_load(path.read_text())


def check_packaged(template):
    """Raise OpsError unless the merge template's wiring is in the packaged template."""
    resources = template.get("Resources", {})
    handler = resources.get("APIHandler", {}).get("Properties", {})
    missing = []
    if handler.get("CodeUri") != "./deployment.zip":
        missing.append("APIHandler CodeUri ./deployment.zip")
    if "VpcConfig" not in handler:
        missing.append("APIHandler VpcConfig")
    if handler.get("Role") != {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}:
        missing.append("APIHandler Role from ApiHandlerRole")
    variables = handler.get("Environment", {}).get("Variables", {})
    missing += [
        f"environment variable {name}" for name in REQUIRED_VARIABLES if name not in variables
    ]
    outputs = template.get("Outputs", {})
    missing += [f"output {name}" for name in ("EndpointURL", "FunctionName") if name not in outputs]
    if handler.get("AutoPublishAlias") != ALIAS:
        missing.append(f"APIHandler AutoPublishAlias {ALIAS}")
    if missing:
        raise OpsError("package-api: the merged template lacks " + ", ".join(missing))
    # A route Chalice adds must have its integration in the merge template too, or API Gateway
    # would call $LATEST and bypass the alias, the canary and the rollback.
    definition = resources.get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {})
    for path, methods in (definition.get("paths") or {}).items():
        for method, operation in methods.items():
            uri = (operation.get("x-amazon-apigateway-integration") or {}).get("uri")
            if "APIHandler.Alias" not in str(uri):
                raise OpsError(
                    f"package-api: {method} {path} calls the function, not its alias "
                    "(add its integration uri to cloudformation/api/merge.yaml)"
                )
