"""``python -m ops package-api`` (what ``make package`` runs): the API stack, offline.

Writes ``build/api/sam.yaml`` and ``build/api/deployment.zip`` (``ops.cfn.packaging``) and
prints the zip's size and SHA-256: the artifact that is promoted unchanged from stage to stage.
"""

import hashlib
from pathlib import Path

from ops import stages
from ops.cfn.packaging import DEFAULT_OUT, check_packaged, load_template, package


def add_arguments(parser):
    parser.description = (
        "Run chalice package with the merge template; write sam.yaml and deployment.zip "
        "to the output directory. No AWS access is needed."
    )
    parser.add_argument(
        "--stage",
        choices=stages.NAMES,
        default="dev",
        help="the Chalice stage to package with; the package itself is the same for every stage",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="output directory"
    )


def run(args, ctx):
    out = Path(args.out).resolve()
    template_path, zip_path = package(args.stage, out, ctx)
    check_packaged(load_template(template_path))
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    size_kib = zip_path.stat().st_size / 1024
    ctx.say(f"package-api: {template_path}")
    ctx.say(f"package-api: {zip_path} ({size_kib:.0f} KiB, sha256 {digest})")
    return 0
