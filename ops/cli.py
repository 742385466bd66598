"""The ``python -m ops`` command line: parse, build the Context, run, turn failures into one line.

Each command module in ``COMMANDS`` registers its own sub-parser. Expected failures are
``OpsError``; AWS and connection errors are translated by ``ops.awserrors`` where a command
uses AWS. Nothing reaches the user as a traceback unless ``OPS_DEBUG=1``.
"""

import argparse
import importlib
import sys

from chalice_app.chalicelib.settings import SettingsError
from ops import awserrors
from ops.context import Context
from ops.errors import OpsError

# "ops.patch" (the name `patch` is reserved for it) comes with the host-patching work (issue 6).
COMMANDS = [
    "ops.drift",
    "ops.migrate",
    "ops.package_api",
    "ops.patch",
    "ops.run_local",
    "ops.stack_deploy",
    "ops.plan",
    "ops.deploy_api",
    "ops.smoke",
    "ops.destroy",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the whole usage block; one line with a pointer to --help is enough.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(prog="python -m ops", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(
        title="commands",
        metavar="COMMAND",
        dest="command_name",
        required=True,
        parser_class=_Parser,
    )
    for name in COMMANDS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv=None, ctx=None):
    args = build_parser().parse_args(argv)
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
        message = awserrors.describe(exc)
        if message is not None:
            ctx.warn(f"{args.command_name}: {message}")
            return 1
        ctx.warn(f"ops: unexpected {type(exc).__name__}: {exc} (OPS_DEBUG=1 shows the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
