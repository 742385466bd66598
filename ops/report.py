"""How every command shows a result: aligned text tables, markdown tables, GitHub job summaries
and step outputs.

Text goes to the terminal. Markdown goes to the file ``$GITHUB_STEP_SUMMARY`` names, when it is
set (GitHub Actions' job summary page); outside GitHub Actions it is unset and nothing is
written, so a command prints the same thing on a laptop and in CI, and CI also gets the page.
"""


def cell(value):
    """``value`` as one markdown table cell: a single line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers, rows):
    """Columns padded to their widest value, a dashed rule under the headers."""
    rows = [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(headers), *rows]) for i in range(len(headers))]
    rule = ["-" * w for w in widths]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), rule, *rows]
    )


def append_summary(ctx, markdown):
    """Append ``markdown`` to the job summary, if there is one; a write failure only warns."""
    path = ctx.env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown.rstrip("\n") + "\n\n")
    except OSError as exc:
        ctx.warn(f"could not write the job summary to {path}: {exc.strerror}")


class Heartbeat:
    """A "still waiting" line every ``every`` seconds of a wait that has printed nothing new.

    Polling loops (a stack operation, a Run Command, a drift detection) print what changes; a
    step that takes ten minutes without changing (an Aurora cluster being created, a patch
    install) would otherwise leave a CI log silent that long. Time comes from ``ctx.clock``.
    """

    def __init__(self, ctx, every=60):
        self._ctx = ctx
        self._every = every
        self._started = self._last = ctx.clock()

    def changed(self):
        """Something new was printed: the next "still" line is ``every`` seconds away."""
        self._last = self._ctx.clock()

    def beat(self, what):
        now = self._ctx.clock()
        if now - self._last >= self._every:
            self._last = now
            self._ctx.say(f"{what} ({now - self._started:.0f} s so far)")


def set_output(ctx, name, value):
    """Set a step output (``$GITHUB_OUTPUT``) a later job can read; nothing outside Actions."""
    path = ctx.env.get("GITHUB_OUTPUT")
    if not path:
        return
    if "\n" in str(value):  # one line per output: a newline would start another output
        raise ValueError(f"step output {name} spans lines")
    with open(path, "a", encoding="utf-8") as outputs:
        outputs.write(f"{name}={value}\n")
