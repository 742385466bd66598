"""GitHub through the ``gh`` CLI: the repository settings ``ops bootstrap`` makes, and the pull
request ``ops host-release --propose`` opens. ``Gh`` is the one place that runs ``gh``; it reads
its token (``GH_TOKEN``) and repository (``GH_REPO``) from ``ctx.env``, and tests put a fake
``gh`` first on ``PATH``.

**The bootstrap's settings**, set through GitHub's REST API when ``gh`` is installed and logged
in; otherwise (and in ``--dry-run``) the same steps are printed as the exact shell commands to
run. In order:

1. The repository's OIDC subject template, ``repo``, ``context`` and ``job_workflow_ref``: the
   deploy roles trust their environment in the reusable workflows at ``refs/heads/main``, the
   plan role pull requests of the preview workflow. The roles exist first (AWS goes before this),
   because tokens use the new subject at once.
2. One environment per stage with a deployment-branch policy of ``main`` alone (a job that names
   it from another branch or a pull request fails before any step), and required reviewers on a
   protected stage (prod). Other branch rules are removed: "main only" is the point.
3. The repository's workflow permissions: the ``GITHUB_TOKEN`` gets read access unless a
   workflow asks for more (every workflow here declares its own), and GitHub Actions may create
   pull requests, which the host-release workflow's proposing job needs (GitHub calls the setting
   "Allow GitHub Actions to create and approve pull requests"; an organization that forbids it
   must allow it first).
4. The variables: ``AWS_DEPLOY_ROLE_ARN`` per environment, then for the repository
   ``AWS_REGION``, ``AWS_RELEASE_ROLE_ARN``, per stage the roles of its jobs that run with no
   environment (preview, drift, patch) and its region, ``AWS_<STAGE>_PREVIEW_ROLE_ARN``,
   ``AWS_<STAGE>_DRIFT_ROLE_ARN``, ``AWS_<STAGE>_PATCH_ROLE_ARN``, ``AWS_<STAGE>_REGION`` (such
   jobs see no environment's variables), and, last, ``AWS_PLAN_ROLE_ARN``, whose presence turns
   the AWS jobs on.

Every step sets a value rather than adding one, so running it again changes nothing.

**The release pull request** (``open_pull_request``) is made with the REST API too: read the
file at the base branch's commit, create a branch there, write the new content as one commit on
it, open the pull request. No ``git push``, so the job needs no git credentials, and the commit
is based on exactly the file it replaces (the contents API refuses a stale blob).
"""

import base64
import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from ops.errors import OpsError

CLAIMS = ["repo", "context", "job_workflow_ref"]
BRANCH = "main"
GH_TIMEOUT = 60
# Read-only GITHUB_TOKEN by default; Actions may open pull requests (the host-release workflow).
WORKFLOW_PERMISSIONS = {
    "default_workflow_permissions": "read",
    "can_approve_pull_request_reviews": True,
}
REPO_API = "repos/{owner}/{repo}"  # gh api fills in the repository of GH_REPO (or the checkout)


# The roles of jobs on main with no environment, one of each per stage; such jobs see only
# repository variables, so each is AWS_<STAGE>_<ROLE>_ROLE_ARN.
STAGE_ROLES = ("PREVIEW", "DRIFT", "PATCH")


@dataclass(frozen=True)
class Environment:
    stage: str
    deploy_role_arn: str
    protected: bool
    region: str = ""
    # {"PREVIEW": arn, "DRIFT": arn, "PATCH": arn}
    roles: dict = field(default_factory=dict)

    def repository_variables(self):
        """``[(name, value)]``: the stage's variables that jobs without an environment read."""
        prefix = f"AWS_{self.stage.upper()}"
        found = [(f"{prefix}_{role}_ROLE_ARN", self.roles[role]) for role in STAGE_ROLES]
        return [*found, (f"{prefix}_REGION", self.region)]


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
        if self.path is None:
            raise OpsError("the GitHub CLI (gh) is not installed: https://cli.github.com")
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


def commands(repo, environments, region, plan_role_arn, reviewers, release_role_arn):
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
        "# read-only GITHUB_TOKEN by default; Actions may open pull requests (host-release)",
        _input("PUT", f"repos/{repo}/actions/permissions/workflow", WORKFLOW_PERMISSIONS),
        "# repository variables; AWS_PLAN_ROLE_ARN last: it turns the AWS jobs on",
        shlex.join(["gh", "variable", "set", "AWS_REGION", "--body", region, "--repo", repo]),
        shlex.join(
            ["gh", "variable", "set", "AWS_RELEASE_ROLE_ARN", "--body", release_role_arn]
            + ["--repo", repo]
        ),
        *(
            shlex.join(["gh", "variable", "set", name, "--body", value, "--repo", repo])
            for env in environments
            for name, value in env.repository_variables()
        ),
        shlex.join(
            ["gh", "variable", "set", "AWS_PLAN_ROLE_ARN", "--body", plan_role_arn]
            + ["--repo", repo]
        ),
    ]
    return lines


# ---------------------------------------------------------------------------- applying them
def configure(ctx, gh, repo, environments, region, plan_role_arn, reviewers, release_role_arn):
    """Apply the setup through ``gh`` (logged in), saying what each step did."""
    gh.api(
        f"repos/{repo}/actions/oidc/customization/sub",
        "PUT",
        {"use_default": False, "include_claim_keys": CLAIMS},
    )
    ctx.say(f"github: {repo}: OIDC subject = {', '.join(CLAIMS)}")
    for env in environments:
        _environment(ctx, gh, repo, env, reviewers)
    gh.api(f"repos/{repo}/actions/permissions/workflow", "PUT", WORKFLOW_PERMISSIONS)
    ctx.say(f"github: {repo}: GITHUB_TOKEN read-only by default; Actions may open pull requests")
    gh.run(["variable", "set", "AWS_REGION", "--body", region, "--repo", repo])
    gh.run(["variable", "set", "AWS_RELEASE_ROLE_ARN", "--body", release_role_arn, "--repo", repo])
    for env in environments:
        for name, value in env.repository_variables():
            gh.run(["variable", "set", name, "--body", value, "--repo", repo])
            ctx.say(f"github: {repo}: {name} = {value}")
    gh.run(["variable", "set", "AWS_PLAN_ROLE_ARN", "--body", plan_role_arn, "--repo", repo])
    ctx.say(
        f"github: {repo}: AWS_REGION = {region}, AWS_RELEASE_ROLE_ARN = {release_role_arn}, "
        f"AWS_PLAN_ROLE_ARN = {plan_role_arn}"
    )


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


# ---------------------------------------------------------------------------- a pull request
def open_pull_request(ctx, *, base, branch, path, change, message, title, body):
    """Open (or find) the pull request from ``branch`` that applies ``change`` to ``path``.

    ``change(text) -> new text`` is applied to ``path`` as it is on ``base``. Returns
    ``(url, opened)``: ``opened`` is False when an open pull request from ``branch`` exists.
    """
    gh = Gh(ctx)
    existing = json.loads(
        gh.run(["pr", "list", "--head", branch, "--state", "open", "--json", "url"]) or "[]"
    )
    if existing:
        return existing[0]["url"], False
    sha = gh.run(["api", f"{REPO_API}/git/ref/heads/{base}", "--jq", ".object.sha"]).strip()
    original = json.loads(gh.run(["api", f"{REPO_API}/contents/{path}?ref={sha}"]))
    text = base64.b64decode(original["content"]).decode("utf-8")
    new_text = change(text)
    try:
        gh.run(
            ["api", f"{REPO_API}/git/refs", "-f", f"ref=refs/heads/{branch}", "-f", f"sha={sha}"]
        )
    except OpsError as exc:
        if "Reference already exists" not in str(exc):
            raise
        # Left by an earlier proposal that was closed: start it again from the base.
        gh.run(["api", "-X", "PATCH", f"{REPO_API}/git/refs/heads/{branch}",
                "-f", f"sha={sha}", "-F", "force=true"])  # fmt: skip
    content = base64.b64encode(new_text.encode("utf-8")).decode()
    gh.run(
        ["api", "-X", "PUT", f"{REPO_API}/contents/{path}", "-f", f"message={message}"]
        + ["-f", f"content={content}", "-f", f"sha={original['sha']}", "-f", f"branch={branch}"]
    )
    url = gh.run(
        ["pr", "create", "--base", base, "--head", branch, "--title", title, "--body", body]
    )
    return url.strip().splitlines()[-1], True
