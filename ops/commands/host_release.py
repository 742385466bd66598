"""``python -m ops host-release``: the Amazon Linux 2023 release every host installs from, as code.

The pin is ``HOST_OS_RELEASE`` in ``ops/stages.py``; ``deploy-infra`` sends it as the infra
stack's ``HostOsRelease``, and the host's cfn-init writes it to dnf's ``releasever``.

* Without options it reads the newest release AWS publishes (``ops.aws.al2023``) and prints it
  with the pin. In GitHub Actions it also sets the step outputs ``pinned``, ``newest`` and
  ``newer`` (``true`` when the newest is newer than the pin).
* ``--propose RELEASE`` opens a pull request that changes the pin to ``RELEASE`` through the
  GitHub CLI (``ops.github``), or names the open one that already does. It needs no AWS access.
  Merged, the new release reaches dev with the deploy, then prod after its approval.
"""

import re

from ops import report, stages
from ops.aws import al2023
from ops.errors import OpsError
from ops.github import open_pull_request

PIN_FILE = "ops/stages.py"
PIN = re.compile(r'^HOST_OS_RELEASE = "(?P<release>[^"]*)"$', re.M)
BASE = "main"


def add_arguments(parser):
    parser.description = (
        "Show the Amazon Linux 2023 release the hosts are pinned to (HOST_OS_RELEASE in "
        "ops/stages.py) and the newest one AWS publishes, or open a pull request that moves "
        "the pin. See docs/patching.md."
    )
    parser.add_argument(
        "--propose",
        metavar="RELEASE",
        help="open a pull request pinning RELEASE (for example 2023.9.20251117) with the "
        "GitHub CLI; needs no AWS access (default: only show the releases)",
    )


def run(args, ctx):
    pinned = current_pin((stages.ROOT / PIN_FILE).read_text(encoding="utf-8"))
    if args.propose:
        return propose(ctx, pinned, args.propose)
    newest, image_id, name = al2023.newest(ctx)
    newer = al2023.key(newest) > al2023.key(pinned)
    ctx.say(f"host-release: pinned {pinned}; newest from AWS {newest} ({name}, {image_id})")
    ctx.say(
        f"host-release: {newest} is newer: propose it with --propose {newest}"
        if newer
        else "host-release: the pin is current"
    )
    for output, value in (("pinned", pinned), ("newest", newest), ("newer", str(newer).lower())):
        report.set_output(ctx, output, value)
    return 0


def propose(ctx, pinned, release):
    if al2023.parse(release) != release:
        raise OpsError(f"{release!r} is not an Amazon Linux 2023 release such as 2023.9.20251117")
    if al2023.key(release) <= al2023.key(pinned):
        ctx.say(f"host-release: {release} is not newer than the pinned {pinned}; nothing to do")
        return 0
    url, opened = open_pull_request(
        ctx,
        base=BASE,
        branch=f"host-release/{release}",
        path=PIN_FILE,
        change=lambda text: repin(text, release),
        message=f"Pin the hosts' Amazon Linux 2023 release to {release}",
        title=f"Hosts: Amazon Linux 2023 release {release}",
        body=_body(pinned, release),
    )
    verb = "opened" if opened else "already open"
    ctx.say(f"host-release: pull request {verb}: {url}")
    report.append_summary(ctx, f"Pull request for Amazon Linux {release} {verb}: {url}")
    return 0


def current_pin(text):
    found = PIN.findall(text)
    if len(found) != 1:
        raise OpsError(f"{PIN_FILE} must set HOST_OS_RELEASE exactly once on its own line")
    return found[0]


def repin(text, release):
    """``text`` (ops/stages.py) with the pin changed to ``release`` and nothing else."""
    current_pin(text)
    return PIN.sub(f'HOST_OS_RELEASE = "{release}"', text)


def _body(pinned, release):
    return "\n".join(
        [
            f"Amazon Linux 2023 release {release} is out; the hosts are pinned to {pinned}.",
            "",
            "Merging this deploys it to dev (`HostOsRelease`: cfn-init writes it to dnf's "
            "`releasever`, and the next patch Install installs from it), then to prod after "
            "its approval. Read its release notes first (AWS's Amazon Linux 2023 release "
            "notes); AWS's advice on moving between releases: "
            "https://docs.aws.amazon.com/linux/al2023/ug/updating.html",
            "",
            "Opened by the host-release workflow (docs/patching.md). Pull requests opened with "
            "the workflow's token start no workflow run: close and reopen this one to run CI.",
        ]
    )
