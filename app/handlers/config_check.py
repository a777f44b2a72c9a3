"""A pull request that touches Flywheel's config → a "Flywheel config" check run on its head.

The same checks as ``flywheel check-config`` (schema, templates, forms against the workflows and
GitHub's form syntax, the repository override), on the files at the PR's head, with a line
annotation on each problem. Runs again on every push (``synchronize``).
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ..config.review import review, touches_config
from ..plan.actions import CheckRun
from ..plan.context import HandlerContext

router = Router()
NAME = "Flywheel config"


@router.register("pull_request", action="opened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="reopened")
async def on_pull_request(event: sansio.Event, ctx: HandlerContext) -> None:
    """pull_request (opened, synchronize, reopened) touching config → a check run."""
    gh = ctx.gh
    if gh is None:
        ctx.note("dry run: the config of a pull request is not read")
        return
    pull = event.data["pull_request"]
    repo = event.data["repository"]["full_name"]
    files = [f["filename"] async for f in gh.getiter(f"/repos/{repo}/pulls/{pull['number']}/files")]
    if not touches_config(files):
        return
    head = str(pull["head"]["sha"])
    findings = await review(gh, repo, head, ctx.config)
    count = len(findings)
    lines = [f"- `{f.path}` line {f.line}: {f.message}" for f in findings]
    annotations = tuple(
        {
            "path": f.path,
            "start_line": max(1, f.line),
            "end_line": max(1, f.line),
            "annotation_level": "failure",
            "message": f.message[:64000],
        }
        for f in findings
    )
    title = f"{count} problem{'' if count == 1 else 's'}" if findings else "The config is valid"
    summary = "\n".join(lines) or "Schema, templates, issue forms and the override check out."
    conclusion = "failure" if findings else "success"
    ctx.add(CheckRun(repo, head, NAME, conclusion, title, summary, annotations))
    ctx.note(f"config at {head[:7]}: {len(findings)} problem(s)")
