"""The GitHub half of ``ops bootstrap``: the settings the workflows and the AWS roles rely on.

Set through GitHub's REST API with the ``gh`` CLI when it is installed and logged in; otherwise
(and in ``--dry-run``) the same steps are printed as the exact shell commands to run. In order:

1. The repository's OIDC subject template, ``repo``, ``context`` and ``job_workflow_ref``: the
   deploy roles trust their environment in the reusable workflows at ``refs/heads/main``, the
   plan role pull requests of the preview workflow. The roles exist first (AWS goes before this),
   because tokens use the new subject at once.
2. One environment per stage with a deployment-branch policy of ``main`` alone (a job that names
   it from another branch or a pull request fails before any step), and required reviewers on a
   protected stage (prod). Other branch rules are removed: "main only" is the point.
3. The variables: ``AWS_DEPLOY_ROLE_ARN`` per environment, then ``AWS_REGION`` and, last,
   ``AWS_PLAN_ROLE_ARN`` for the repository, whose presence turns the AWS jobs on.

Every step sets a value rather than adding one, so running it again changes nothing.
"""

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ops.errors import OpsError

CLAIMS = ["repo", "context", "job_workflow_ref"]
BRANCH = "main"
GH_TIMEOUT = 60


@dataclass(frozen=True)
class Environment:
    stage: str
    deploy_role_arn: str
    protected: bool


class Gh:
    """The ``gh`` found on the context's PATH; ``ready`` when it is logged in."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.path = shutil.which("gh", path=ctx.env.get("PATH"))

    def ready(self):
        return self.path is not None and self._run(["auth", "status"], check=False).returncode == 0

    def run(self, args, body=None):
        """``gh <args>`` (``body``: JSON on stdin); its output, or a one-line error."""
        done = self._run(args, body=body, check=True)
        return done.stdout

    def api(self, path, method="GET", body=None, missing_ok=False):
        args = ["api", "--method", method, path]
        if body is not None:
            args += ["--input", "-"]
        done = self._run(args, body=body, check=not missing_ok)
        if done.returncode != 0:
            if missing_ok and "404" in done.stderr:
                return None
            raise OpsError(f"gh api {method} {path}: {_last_line(done.stderr)}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def _run(self, args, body=None, check=True):
        try:
            done = subprocess.run(  # noqa: S603 -- gh from PATH, arguments built here, no shell
                [self.path, *args],
                input=json.dumps(body) if body is not None else None,
                capture_output=True,
                text=True,
                env=dict(self.ctx.env),
                timeout=GH_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OpsError(f"gh {args[0]} did not answer in {GH_TIMEOUT} s") from exc
        if check and done.returncode != 0:
            raise OpsError(f"gh {' '.join(args[:2])}: {_last_line(done.stderr)}")
        return done


def _last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


def parse_reviewer(text):
    """``("User", login)`` or ``("Team", "org/slug")``."""
    return ("Team", text) if "/" in text else ("User", text)


# ---------------------------------------------------------------------------- the commands
def _input(method, path, body, substitutions=None):
    """``gh api`` with a JSON body on stdin, as a shell snippet (a here-document)."""
    text = json.dumps(body)
    for placeholder, shell in (substitutions or {}).items():
        text = text.replace(json.dumps(placeholder), shell)
    quote = "EOF" if substitutions else "'EOF'"  # unquoted only where $(...) must expand
    return f"gh api --method {method} {path} --input - <<{quote}\n{text}\nEOF"


def _reviewer_lookup(kind, name):
    if kind == "Team":
        org, slug = name.split("/", 1)
        return f"$(gh api orgs/{org}/teams/{slug} --jq .id)"
    return f"$(gh api users/{name} --jq .id)"


def commands(repo, environments, region, plan_role_arn, reviewers):
    """The exact shell commands (bash) of the whole GitHub setup, in order."""
    lines = [
        "# the OIDC subject template the AWS roles trust",
        _input(
            "PUT",
            f"repos/{repo}/actions/oidc/customization/sub",
            {"use_default": False, "include_claim_keys": CLAIMS},
        ),
    ]
    for env in environments:
        base = f"repos/{repo}/environments/{env.stage}"
        policies = f"{base}/deployment-branch-policies"
        body = {
            "deployment_branch_policy": {
                "protected_branches": False,
                "custom_branch_policies": True,
            }
        }
        substitutions = {}
        if env.protected:
            body["reviewers"] = []
            for kind, name in reviewers:
                placeholder = f"<id of {name}>"
                body["reviewers"].append({"type": kind, "id": placeholder})
                substitutions[placeholder] = _reviewer_lookup(kind, name)
        main = f'select(.name == "{BRANCH}" and .type == "branch")'
        lines += [
            f"# environment {env.stage}: deployments from {BRANCH} only"
            + (", approved by a reviewer" if env.protected else ""),
            _input("PUT", base, body, substitutions),
            f'gh api {policies} --jq \'.branch_policies[] | select(.name != "{BRANCH}" or '
            f'.type != "branch") | .id\' | xargs -r -I{{}} gh api --method DELETE '
            f"{policies}/{{}}",
            f"gh api {policies} --jq '.branch_policies[] | {main} | .id' | grep -q . || "
            f"gh api --method POST {policies} -f name={BRANCH} -f type=branch",
            shlex.join(
                ["gh", "variable", "set", "AWS_DEPLOY_ROLE_ARN", "--env", env.stage]
                + ["--body", env.deploy_role_arn, "--repo", repo]
            ),
        ]
    lines += [
        "# repository variables; AWS_PLAN_ROLE_ARN last: it turns the AWS jobs on",
        shlex.join(["gh", "variable", "set", "AWS_REGION", "--body", region, "--repo", repo]),
        shlex.join(
            ["gh", "variable", "set", "AWS_PLAN_ROLE_ARN", "--body", plan_role_arn]
            + ["--repo", repo]
        ),
    ]
    return lines


# ---------------------------------------------------------------------------- applying them
def configure(ctx, gh, repo, environments, region, plan_role_arn, reviewers):
    """Apply the setup through ``gh`` (logged in), saying what each step did."""
    gh.api(
        f"repos/{repo}/actions/oidc/customization/sub",
        "PUT",
        {"use_default": False, "include_claim_keys": CLAIMS},
    )
    ctx.say(f"github: {repo}: OIDC subject = {', '.join(CLAIMS)}")
    for env in environments:
        _environment(ctx, gh, repo, env, reviewers)
    gh.run(["variable", "set", "AWS_REGION", "--body", region, "--repo", repo])
    gh.run(["variable", "set", "AWS_PLAN_ROLE_ARN", "--body", plan_role_arn, "--repo", repo])
    ctx.say(f"github: {repo}: AWS_REGION = {region}, AWS_PLAN_ROLE_ARN = {plan_role_arn}")


def _environment(ctx, gh, repo, env, reviewers):
    base = f"repos/{repo}/environments/{env.stage}"
    body = {
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}
    }
    if env.protected:
        body["reviewers"] = _reviewer_ids(gh, base, env, reviewers)
    gh.api(base, "PUT", body)
    policies = f"{base}/deployment-branch-policies"
    found = (gh.api(policies) or {}).get("branch_policies", [])
    kept = False
    for policy in found:
        if policy.get("name") == BRANCH and policy.get("type", "branch") == "branch" and not kept:
            kept = True
            continue
        gh.api(f"{policies}/{policy['id']}", "DELETE")
        ctx.say(f"github: environment {env.stage}: removed the branch rule {policy.get('name')}")
    if not kept:
        gh.api(policies, "POST", {"name": BRANCH, "type": "branch"})
    gh.run(
        ["variable", "set", "AWS_DEPLOY_ROLE_ARN", "--env", env.stage]
        + ["--body", env.deploy_role_arn, "--repo", repo]
    )
    who = f", reviewers {len(body['reviewers'])}" if env.protected else ""
    ctx.say(
        f"github: environment {env.stage}: {BRANCH} only{who}, "
        f"AWS_DEPLOY_ROLE_ARN = {env.deploy_role_arn}"
    )


def _reviewer_ids(gh, base, env, reviewers):
    if reviewers:
        found = []
        for kind, name in reviewers:
            if kind == "Team":
                org, slug = name.split("/", 1)
                answer = gh.api(f"orgs/{org}/teams/{slug}")
            else:
                answer = gh.api(f"users/{name}")
            found.append({"type": kind, "id": answer["id"]})
        return found
    # No --reviewer: keep the reviewers the environment has, if it has any.
    current = gh.api(base, missing_ok=True) or {}
    for rule in current.get("protection_rules", []):
        if rule.get("type") == "required_reviewers" and rule.get("reviewers"):
            return [{"type": r["type"], "id": r["reviewer"]["id"]} for r in rule["reviewers"]]
    raise OpsError(
        f"{env.stage} is protected and has no reviewer: pass --reviewer LOGIN (or ORG/TEAM), "
        "the people who approve its deploys"
    )
