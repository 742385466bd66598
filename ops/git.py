"""The one way ops asks git something: which commit this checkout is, and whether one commit
descends from another (``git merge-base --is-ancestor``), for deploys that go forward only.

Commands reach git through ``ctx.git``, a runner ``git(*args) -> CompletedProcess`` working in
the repository, so tests hand in one that works in a real temporary repository.
"""

import subprocess
from pathlib import Path

from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent


def runner(root=ROOT):
    """A ``git(*args)`` that runs git in ``root`` and never raises for git's own exit codes."""

    def git(*args):
        try:
            # A fixed executable with arguments built here from commit hashes, never a shell.
            return subprocess.run(  # noqa: S603
                ["git", "-C", str(root), *args],  # noqa: S607 -- git from PATH, as a developer runs it
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise OpsError(f"cannot run git: {exc.strerror}") from exc

    return git


def head(ctx):
    """The full hash of the commit checked out: what a deploy records as its SourceCommit."""
    done = ctx.git("rev-parse", "--verify", "HEAD^{commit}")
    if done.returncode != 0:
        raise OpsError(f"cannot tell which commit is checked out: {_last_line(done)}")
    return done.stdout.strip()


def is_ancestor(ctx, older, newer):
    """True when ``newer`` is ``older`` or descends from it; False when it does not.

    A commit this clone does not have (a shallow clone, or history rewritten since) is an error:
    the answer is unknown, and a deploy must not guess it.
    """
    done = ctx.git("merge-base", "--is-ancestor", older, newer)
    if done.returncode == 0:
        return True
    if done.returncode == 1:
        return False
    raise OpsError(
        f"cannot tell whether {newer[:12]} descends from {older[:12]}: {_last_line(done)} "
        "(is the clone shallow? fetch the full history, e.g. actions/checkout with fetch-depth: 0)"
    )


def _last_line(done):
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"git exited with {done.returncode}"
