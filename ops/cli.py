"""The ``python -m ops`` command line: parse, run one command, turn any failure into one line.

A command is a module of ``ops.commands`` with ``add_arguments(parser)`` and ``run(args, ctx)``,
listed once in ``COMMANDS`` with its one-line help. Only the command being run is imported, so
``run`` and ``migrate`` never load boto3 or PyYAML, and ``--help`` loads nothing at all.

Expected failures are ``OpsError``; AWS failures are translated by ``ops.aws.errors.describe``.
Nothing reaches the user as a traceback unless ``OPS_DEBUG=1``.
"""

import argparse
import importlib
import sys

from chalicelib.settings import SettingsError
from ops.aws.errors import describe
from ops.context import Context
from ops.errors import OpsError

DESCRIPTION = (
    "Run, test, deploy and operate the pets API: the commands the Makefile and the GitHub "
    "workflows call, in the order an operator meets them."
)
# name -> (module in ops.commands, one-line help), in workflow order.
COMMANDS = {
    "run": ("run", "serve the API locally on a real database (what make run does)"),
    "migrate": ("migrate", "apply pending schema migrations to the database named by DB_*"),
    "package-api": (
        "package_api",
        "package the API stack offline into build/api (what make package does)",
    ),
    "plan": (
        "plan",
        "change sets (never executed) for every stack of a stage, as a markdown report",
    ),
    "preview": (
        "preview",
        "change sets of every stack of a stage, kept for deploy-* --from to execute exactly",
    ),
    "deploy-infra": ("deploy_infra", "create or update pets-<stage>-infra through a change set"),
    "deploy-api": (
        "deploy_api",
        "upload the packaged API and deploy pets-<stage>-api; print the endpoint URL",
    ),
    "smoke": (
        "smoke",
        "check the deployed API: a known pet 200, an unknown one 404, with latency",
    ),
    "patch": (
        "patch",
        "scan or patch the stage's EC2 hosts with SSM Patch Manager and report compliance",
    ),
    "drift": ("drift", "detect drift on every stack of a stage; exit 1 when anything drifted"),
    "stack-deploy": (
        "stack_deploy",
        "deploy any CloudFormation stack through a change set, following its events",
    ),
    "destroy": (
        "destroy",
        "delete the stage's API and infra stacks (the database keeps a final snapshot)",
    ),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the whole usage block; one line with a pointer to --help is enough.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(argv):
    """The parser, with the arguments of the one command ``argv`` names (if it names one)."""
    parser = _Parser(prog="python -m ops", description=DESCRIPTION)
    subparsers = parser.add_subparsers(
        title="commands",
        metavar="COMMAND",
        dest="command_name",
        required=True,
        parser_class=_Parser,
    )
    chosen = next((word for word in argv if word in COMMANDS), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(f"ops.commands.{module_name}")
            module.add_arguments(sub)
            sub.set_defaults(command=module.run)
    return parser


def main(argv=None, ctx=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    ctx = ctx or Context()
    try:
        return args.command(args, ctx) or 0
    except OpsError as exc:
        message = str(exc)
        if not message.startswith(f"{args.command_name}:"):
            message = f"{args.command_name}: {message}"
        ctx.warn(message)
        return exc.exit_code
    except SettingsError as exc:
        ctx.warn(f"ops: {exc}")
        return 1
    except KeyboardInterrupt:
        ctx.warn("interrupted")
        return 130
    except Exception as exc:  # the CLI's last line of defence: one line, not a traceback
        if ctx.env.get("OPS_DEBUG") == "1":
            raise
        message = describe(exc)
        if message is not None:
            ctx.warn(f"{args.command_name}: {message}")
            return 1
        ctx.warn(f"ops: unexpected {type(exc).__name__}: {exc} (OPS_DEBUG=1 shows the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
