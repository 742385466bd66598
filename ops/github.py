"""GitHub through the ``gh`` CLI: open a pull request that changes one file, without a clone.

The change is made with GitHub's REST API (``gh api``): read the file at the base branch's
commit, create a branch there, write the new content as one commit on it, open the pull
request. No ``git push``, so the job needs no git credentials, and the commit is based on
exactly the file it replaces (the contents API refuses a stale blob). ``gh`` reads its token
(``GH_TOKEN``) and repository (``GH_REPO``) from the environment, ``ctx.env``; tests put a fake
``gh`` first on ``PATH``.
"""

import base64
import json
import shutil
import subprocess  # nosec B404 -- runs gh, found on PATH, with an argument list, no shell

from ops.errors import OpsError

REPO_API = "repos/{owner}/{repo}"  # gh api fills in the repository's owner and name


def gh(ctx, *args):
    """Run ``gh args...``; its standard output, or OpsError with its last error line."""
    binary = shutil.which("gh", path=ctx.env.get("PATH"))
    if binary is None:
        raise OpsError("the GitHub CLI (gh) is not installed: https://cli.github.com")
    done = subprocess.run(  # noqa: S603  # nosec B603 -- an argument list, no shell
        [binary, *args],
        env=dict(ctx.env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise OpsError(f"gh {args[0]} {args[1] if len(args) > 1 else ''}".rstrip() + f": {last}")
    return done.stdout


def open_pull_request(ctx, *, base, branch, path, change, message, title, body):
    """Open (or find) the pull request from ``branch`` that applies ``change`` to ``path``.

    ``change(text) -> new text`` is applied to ``path`` as it is on ``base``. Returns
    ``(url, opened)``: ``opened`` is False when an open pull request from ``branch`` exists.
    """
    existing = json.loads(
        gh(ctx, "pr", "list", "--head", branch, "--state", "open", "--json", "url") or "[]"
    )
    if existing:
        return existing[0]["url"], False
    sha = gh(ctx, "api", f"{REPO_API}/git/ref/heads/{base}", "--jq", ".object.sha").strip()
    original = json.loads(gh(ctx, "api", f"{REPO_API}/contents/{path}?ref={sha}"))
    text = base64.b64decode(original["content"]).decode("utf-8")
    new_text = change(text)
    try:
        gh(ctx, "api", f"{REPO_API}/git/refs", "-f", f"ref=refs/heads/{branch}", "-f", f"sha={sha}")
    except OpsError as exc:
        if "Reference already exists" not in str(exc):
            raise
        # Left by an earlier proposal that was closed: start it again from the base.
        gh(ctx, "api", "-X", "PATCH", f"{REPO_API}/git/refs/heads/{branch}",
           "-f", f"sha={sha}", "-F", "force=true")  # fmt: skip
    gh(
        ctx,
        "api",
        "-X",
        "PUT",
        f"{REPO_API}/contents/{path}",
        "-f",
        f"message={message}",
        "-f",
        f"content={base64.b64encode(new_text.encode('utf-8')).decode()}",
        "-f",
        f"sha={original['sha']}",
        "-f",
        f"branch={branch}",
    )
    url = gh(
        ctx, "pr", "create", "--base", base, "--head", branch, "--title", title, "--body", body
    )
    return url.strip().splitlines()[-1], True
