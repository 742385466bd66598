"""A fake ``gh`` (the GitHub CLI) for tests: put first on ``PATH``, it answers from a script.

Each call is appended to a log as JSON (its arguments, and whether ``GH_TOKEN``/``GH_REPO`` were
set), then answered by the first scripted response whose ``args`` are a prefix of the call's
arguments: its ``stdout``, ``stderr`` and exit ``code``. A call nothing matches fails with exit 9,
so an unexpected call shows in the test.
"""

import json
import sys
from pathlib import Path

FAKE_GH = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(json.dumps({{"args": args, "token": bool(os.environ.get("GH_TOKEN")),
                          "repo": os.environ.get("GH_REPO", "")}}) + "\\n")
for response in json.load(open({script!r}, encoding="utf-8")):
    if args[: len(response["args"])] == response["args"]:
        sys.stdout.write(response.get("stdout", ""))
        sys.stderr.write(response.get("stderr", ""))
        sys.exit(response.get("code", 0))
sys.stderr.write("fake gh: unexpected call: " + " ".join(args) + "\\n")
sys.exit(9)
"""


class FakeGh:
    def __init__(self, folder, responses):
        self.bin = Path(folder) / "fake-gh-bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log = Path(folder) / "gh-calls.jsonl"
        script = Path(folder) / "gh-script.json"
        script.write_text(json.dumps(responses), encoding="utf-8")
        gh = self.bin / "gh"
        gh.write_text(FAKE_GH.format(python=sys.executable, log=str(self.log), script=str(script)))
        gh.chmod(0o755)

    def calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]
