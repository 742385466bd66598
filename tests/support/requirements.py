"""Reading the hash-pinned requirement files, and a site folder holding only what they pin.

``pins`` follows ``-r`` includes and reads ``name==version`` with its ``--hash`` options, as pip
does with ``--require-hashes``. ``pinned_site`` links this venv's copy of each pinned
distribution into one folder, so a subprocess started with ``-S`` and that folder on PYTHONPATH
can import exactly the pinned set and nothing else: what a venv built from the file would hold.
"""

import importlib.metadata
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path):
    """``{distribution name: (version, [sha256, ...])}`` of a requirements file and its includes."""
    path = Path(path)
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found.update(pins(path.parent / line.split()[1]))
            continue
        spec, *options = line.split()
        name, _, version = spec.partition("==")
        hashes = [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=")]
        found[name] = (version, hashes)
    return found


def pinned_site(folder, path):
    """A folder with only the distributions ``path`` pins (linked from this venv)."""
    site = Path(folder)
    site.mkdir(parents=True, exist_ok=True)
    for name in pins(path):
        dist = importlib.metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files if not str(f).startswith("..")}
        for top in tops - {"__pycache__", "bin"}:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site
