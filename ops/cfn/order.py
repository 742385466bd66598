"""In order only: a stage's stacks never go back to an older commit by accident.

Each stage stack takes a ``SourceCommit`` parameter and echoes it as an output of the same name
(a parameter, not a stack tag: CloudFormation copies stack tags onto every resource, so changing
one would touch them all). Before a change set is made for a stack, the commit it runs is read
from that output, and the commit about to be deployed must be it or descend from it
(``git merge-base --is-ancestor``). Anything else (an older commit, a re-run of an old workflow
run, a branch that never reached main) is refused in one line, unless the operator says
``--rollback``, which is then written to the output and the job summary.

A stack without the output (deployed before this check existed, or by hand) has nothing to
compare with, and passes.
"""

from ops import git, report
from ops.cfn.stacks import outputs_of
from ops.errors import OpsError

PARAMETER = "SourceCommit"
# The help of the --rollback flag of every command that deploys a stage stack.
ROLLBACK_HELP = (
    "allow deploying a commit that does not descend from the one the stack runs "
    "(its SourceCommit output); refused without this flag"
)


def recorded_commit(stack):
    """The commit a deployed stack says it runs, or None."""
    return outputs_of(stack).get(PARAMETER) or None


def check(ctx, stack, commit, rollback=False, announce=True):
    """Refuse to deploy ``commit`` over ``stack`` unless it descends from what the stack runs.

    ``announce=False`` checks early (before any upload) without saying anything; the deploy
    checks again, and says so when it goes back with ``--rollback``.
    """
    recorded = recorded_commit(stack)
    if not commit or not recorded or recorded == commit:
        return
    if git.is_ancestor(ctx, recorded, commit):
        return
    name = stack["StackName"]
    if not rollback:
        raise OpsError(
            f"{name} runs {recorded[:12]}, and {commit[:12]} does not descend from it: refusing "
            "to go back to an older or unrelated commit (pass --rollback to do so on purpose)"
        )
    if not announce:
        return
    message = f"{name}: rolling back from {recorded[:12]} to {commit[:12]} (--rollback)"
    ctx.say(message)
    report.append_summary(ctx, f"### Rollback\n\n{report.cell(message)}")
