"""A real git repository in a temporary folder, for the deploys that go forward only.

History made by ``make_history``::

    base --- older --- newer      (main)
        \\
         side                      (a branch that never reached main)
"""

import subprocess

from ops.git import runner


def _git(path, *args):
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def make_history(path):
    """Make the repository at ``path``; return ``{name: full hash}``, main checked out."""
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    _git(path, "config", "user.email", "tests@example.invalid")
    _git(path, "config", "user.name", "tests")
    commits = {}

    def commit(name):
        (path / "history.txt").write_text(name + "\n", encoding="utf-8")
        _git(path, "add", "history.txt")
        _git(path, "commit", "--quiet", "-m", name)
        commits[name] = _git(path, "rev-parse", "HEAD")

    commit("base")
    _git(path, "switch", "--quiet", "-c", "side")
    commit("side")
    _git(path, "switch", "--quiet", "main")
    commit("older")
    commit("newer")
    return commits


def checkout(path, commit):
    _git(path, "switch", "--quiet", "--detach", commit)


def git_in(path):
    """The ``ctx.git`` runner for the repository at ``path``."""
    return runner(path)
