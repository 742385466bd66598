"""Put the repository and ``chalice_app/`` on the venv's import path (a ``.pth`` file).

The API's library is imported as ``chalicelib`` everywhere, exactly as Lambda imports it from
the package root, so ``ops``, the tests and the benchmark need ``chalice_app/`` on the path, and
``python -m ops`` must work from any folder. Run with the venv's Python (the Makefile does).
"""

import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

pth = Path(sysconfig.get_paths()["purelib"]) / "pets.pth"
pth.write_text(f"{ROOT}\n{ROOT / 'chalice_app'}\n", encoding="utf-8")
print(f"venv_paths: {pth} -> {ROOT}, {ROOT / 'chalice_app'}")
