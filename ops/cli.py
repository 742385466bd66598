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
from pathlib import Path

from chalicelib.settings import SettingsError
from ops.aws.errors import describe
from ops.context import Context
from ops.errors import OpsError

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = """\
Serve the pets API on this machine, deploy it to a stage of AWS (dev, prod), check it, read its
logs and look after what is deployed. The Makefile and the GitHub workflows run these same
commands, so what CI does can be run here. Commands are listed in the order you meet them."""
EPILOG = """\
how to call it:
  inside the venv (make venv; . .venv/bin/activate)  python -m ops COMMAND ...
  from anywhere else                                 .venv/bin/python -m ops COMMAND ...
  through make (make help lists them)                make run, make deploy-api STAGE=dev, ...

Every command has --help. AWS settings come from the environment as the AWS CLI reads them
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL); the database's from DB_* (README.md). A failure is
one line on stderr and exit 1 (2 for a usage error); OPS_DEBUG=1 shows the traceback."""
# name -> (module in ops.commands, one-line help), in workflow order.
COMMANDS = {
    "run": ("run", "serve the API on this machine, on a real database (what make run does)"),
    "migrate": (
        "migrate",
        "apply pending schema migrations to the DB_* database (a stage's with --stage)",
    ),
    "bootstrap": (
        "bootstrap",
        "set up each stage's AWS roles and buckets and the GitHub repository (once, as admin)",
    ),
    "package-api": ("package_api", "package the API offline into build/api (make package)"),
    "plan": ("plan", "preview a stage's changes: change sets, never executed, as markdown"),
    "preview": (
        "preview",
        "change sets of every stack of a stage, kept for deploy-* --from to execute exactly",
    ),
    "lock": ("lock", "take or give back a stage's lock: one deploy or patch at a time"),
    "deploy-infra": ("deploy_infra", "create or update pets-<stage>-infra through a change set"),
    "deploy-api": (
        "deploy_api",
        "upload the packaged API, deploy pets-<stage>-api and print its URL",
    ),
    "smoke": ("smoke", "check a deployed API: a known pet 200, an unknown one 404, latency"),
    "logs": ("logs", "print the API's log lines: a time range, one request, or --follow"),
    "patch": ("patch", "scan or patch the stage's hosts with SSM Patch Manager; report"),
    "host-release": (
        "host_release",
        "the hosts' pinned Amazon Linux 2023 release, the newest; propose a newer one",
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


class _Help(argparse.HelpFormatter):
    """Every option that takes a value shows its default, unless its help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or action.nargs == 0  # a flag: off unless given
            or default in (None, argparse.SUPPRESS, [])
            or "default" in text
        ):
            return text
        if isinstance(default, Path) and default.is_relative_to(ROOT):
            default = default.relative_to(ROOT)
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        shown = shown.replace("%", "%%")  # argparse %-formats help strings
        return f"{text} (default: {shown})".lstrip()


class _MainHelp(_Help, argparse.RawDescriptionHelpFormatter):
    """The top-level help keeps the line breaks of its description and epilog."""


def build_parser(argv):
    """The parser, with the arguments of the one command ``argv`` names (if it names one)."""
    parser = _Parser(
        prog="python -m ops",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_MainHelp,
    )
    subparsers = parser.add_subparsers(
        title="commands, in the order you meet them",
        metavar="COMMAND",
        dest="command_name",
        required=True,
        parser_class=_Parser,
    )
    chosen = next((word for word in argv if word in COMMANDS), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, formatter_class=_Help)
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
        ctx.warn(f"{args.command_name}: {exc}")
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
