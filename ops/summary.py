"""Markdown for GitHub's job summary: appended to the file ``$GITHUB_STEP_SUMMARY`` names, if any.

Outside GitHub Actions the variable is unset and nothing is written, so the same command prints
the same thing on a laptop and in CI, and CI additionally gets the summary page.
"""


def append(ctx, markdown):
    path = ctx.env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(markdown.rstrip("\n") + "\n\n")


def cell(value):
    """A value safe inside a markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
