"""A fake ``gh`` on PATH: records every call and keeps the GitHub state the calls change.

``ops`` runs the real ``gh`` as a subprocess (``ops.github``), so the tests put this one first on
the context's PATH. It answers the few REST calls the bootstrap makes (``gh api`` with a method,
path and ``--input -``, ``gh variable set``, ``gh auth status``) from a JSON file of state:
environments with their deployment-branch policies and reviewers, variables, the OIDC subject
template, the workflow permissions. A test may also script answers (``responses``: the first
whose ``args`` are a prefix of the call's gives its ``stdout``, ``stderr`` and exit ``code``),
as the host-release tests do for the pull-request calls. Every call is logged with its JSON body
and whether ``GH_TOKEN`` and ``GH_REPO`` were set. Unknown calls fail loudly (exit 2), so a new
call shows in the test.
"""

import json
import os
import sys
from pathlib import Path

SCRIPT = r"""#!PYTHON
import json, os, re, sys

state_file, log_file = os.environ["FAKE_GH_STATE"], os.environ["FAKE_GH_LOG"]
state = json.load(open(state_file))
args = sys.argv[1:]
body = sys.stdin.read() if "--input" in args else ""
with open(log_file, "a") as log:
    log.write(json.dumps({"args": args, "body": json.loads(body) if body else None,
                          "token": bool(os.environ.get("GH_TOKEN")),
                          "repo": os.environ.get("GH_REPO", "")}) + "\n")
for response in state["responses"]:
    if args[: len(response["args"])] == response["args"]:
        sys.stdout.write(response.get("stdout", ""))
        sys.stderr.write(response.get("stderr", ""))
        sys.exit(response.get("code", 0))


def done(answer=None, code=0, error=""):
    json.dump(state, open(state_file, "w"))
    if answer is not None:
        print(json.dumps(answer))
    if error:
        print(error, file=sys.stderr)
    sys.exit(code)


if args[:2] == ["auth", "status"]:
    done(code=0 if state["logged_in"] else 1, error="" if state["logged_in"] else "not logged in")
if args[:2] == ["variable", "set"]:
    name, scope = args[2], "repository"
    if "--env" in args:
        scope = args[args.index("--env") + 1]
    state["variables"].setdefault(scope, {})[name] = args[args.index("--body") + 1]
    done()
if args[0] != "api":
    done(code=2, error=f"fake gh: unexpected {args}")
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = next(a for a in args[1:] if "/" in a and not a.startswith("-"))
data = json.loads(body) if body else None
envs = state["environments"]
if m := re.fullmatch(r"users/([\w-]+)", path):
    done({"id": state["users"][m.group(1)]})
if m := re.fullmatch(r"orgs/([\w-]+)/teams/([\w-]+)", path):
    done({"id": state["users"][m.group(1) + "/" + m.group(2)]})
if re.fullmatch(r"repos/[\w.-]+/[\w.-]+/actions/oidc/customization/sub", path) and method == "PUT":
    state["oidc"] = data
    done({})
if re.fullmatch(r"repos/[\w.-]+/[\w.-]+/actions/permissions/workflow", path) and method == "PUT":
    state["workflow_permissions"] = data
    done()
if m := re.fullmatch(r"repos/[\w.-]+/[\w.-]+/environments/(\w+)", path):
    name = m.group(1)
    if method == "PUT":
        env = envs.setdefault(name, {"policies": []})
        env["deployment_branch_policy"] = data["deployment_branch_policy"]
        if "reviewers" in data:
            env["reviewers"] = data["reviewers"]
        done({"name": name})
    if name not in envs:
        done(code=1, error="gh: Not Found (HTTP 404)")
    rules = []
    if envs[name].get("reviewers"):
        rules.append({"type": "required_reviewers", "reviewers": [
            {"type": r["type"], "reviewer": {"id": r["id"]}} for r in envs[name]["reviewers"]]})
    done({"name": name, "protection_rules": rules})
POLICIES = r"repos/[\w.-]+/[\w.-]+/environments/(\w+)/deployment-branch-policies(?:/(\d+))?"
if m := re.fullmatch(POLICIES, path):
    env = envs[m.group(1)]
    if method == "GET":
        done({"branch_policies": env["policies"]})
    if method == "POST":
        state["next_id"] += 1
        env["policies"].append({"id": state["next_id"], "name": data["name"], "type": data["type"]})
        done(env["policies"][-1])
    if method == "DELETE":
        env["policies"] = [p for p in env["policies"] if p["id"] != int(m.group(2))]
        done()
done(code=2, error=f"fake gh: unexpected {method} {path}")
"""


class FakeGh:
    def __init__(self, folder, logged_in=True, users=None, responses=()):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state_file = self.folder / "state.json"
        self.log_file = self.folder / "calls.jsonl"
        self.log_file.write_text("")
        self.write_state(
            {
                "logged_in": logged_in,
                "users": users or {"alice": 1001, "acme/release": 2002},
                "environments": {},
                "variables": {},
                "oidc": None,
                "workflow_permissions": None,
                "next_id": 0,
                "responses": list(responses),
            }
        )
        gh = self.folder / "gh"
        gh.write_text(SCRIPT.replace("PYTHON", sys.executable, 1))
        gh.chmod(0o755)

    def env(self):
        """The environment ops runs gh with: this fake first on PATH."""
        return {
            "PATH": f"{self.folder}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_GH_STATE": str(self.state_file),
            "FAKE_GH_LOG": str(self.log_file),
        }

    def state(self):
        return json.loads(self.state_file.read_text())

    def write_state(self, state):
        self.state_file.write_text(json.dumps(state))

    def calls(self):
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def writes(self):
        """The calls that change something (not GETs, not auth status)."""
        found = []
        for call in self.calls():
            args = call["args"]
            if args[0] == "auth":
                continue
            if args[0] == "api" and ("--method" not in args or "GET" in args):
                continue
            found.append(call)
        return found
