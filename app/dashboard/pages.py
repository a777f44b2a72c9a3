"""The dashboard's routes: operations (/), the network (/communities), one consortium.

Plain HTML and CSS from Jinja templates with autoescaping (issue titles are
people's text); no script. Every page needs the token's cookie
(``access.py``); without a token configured the pages say how to turn them on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from .. import __version__
from ..config.render import SHIPPED_TEMPLATES
from . import access, connections, graph, views

TEMPLATES = SHIPPED_TEMPLATES / "dashboard"


def environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = lambda v: "-" if v is None else f"{v:,.0f} ms"
    env.filters["issue"] = issue_link
    env.filters["count"] = views.count
    return env


def issue_link(issue: views.IssueView) -> Markup:
    """``<a>owner/repo#N</a> title``, escaped: the network page prints thousands of these,
    and one call here costs a tenth of the same markup built in the template."""
    url, repo, title = escape(issue.url), escape(issue.repo), escape(issue.title)
    return Markup(f'<a class="ref" href="{url}" title="{title}">{repo}#{issue.number}</a> {title}')


ENV = environment()


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(version=__version__, **context)


def respond(html: str, status: int = 200) -> web.Response:
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    # The pages show titles of issues: no caching by proxies, no framing by other sites.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def page(template: str, status: int = 200, **context: Any) -> web.Response:
    return respond(render(template, **context), status)


SOURCES = web.AppKey("flywheel_dashboard_sources", object)


def _state(request: web.Request) -> Any:
    """What the pages read (the service's state: settings, config, journal, index, facts,
    GitHub's rate limits), handed over by the composition root in ``add_routes``."""
    return request.app[SOURCES]


def guarded(handler: Any) -> Any:
    """Off without a token; the login form without the cookie; else the page."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = _state(request).settings.dashboard_token
        if not token:
            return page("off.html.j2", status=403, title="Dashboard off")
        if not access.allowed(request, token):
            return page(
                "login.html.j2", status=401, title="Sign in", next=request.path_qs, wrong=False
            )
        return await handler(request)

    return wrapper


async def login(request: web.Request) -> web.StreamResponse:
    token = _state(request).settings.dashboard_token
    if not token:
        return page("off.html.j2", status=403, title="Dashboard off")
    form = await request.post()
    target = access.safe_next(str(form.get("next", "/")))
    if not await access.check_login(str(form.get("token", "")), token):
        return page("login.html.j2", status=401, title="Sign in", next=target, wrong=True)
    response = web.HTTPSeeOther(target)
    access.remember(response, request, token)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/")
    access.forget(response)
    raise response


async def operations(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    shows_private = state.config.settings.dashboard_shows_private
    outcome = request.query.get("outcome", "")
    outcome = outcome if outcome in views.OUTCOMES else ""
    repo = request.query.get("repo", "")[:200]
    base = state.settings.web_url
    journal = state.journal
    repos = await journal.repos()
    if not shows_private:
        hidden = state.index.private_repos() if state.index is not None else set()
        repos = {r: private for r, private in repos.items() if not private and r not in hidden}
    counts = await journal.counts()
    data = views.Operations(
        mode=state.mode,
        version=__version__,
        uptime=views.span(time.time() - state.started_at),
        counts=counts,
        depth=counts["pending"] + counts["running"],
        deliveries=[
            views.delivery_row(r, base, shows_private)
            for r in await journal.recent(100, state=outcome, repo=repo)
        ],
        retrying=[views.delivery_row(r, base, shows_private) for r in await journal.retrying()],
        rates=views.rate_rows(state.github.rate_limits) if state.github else [],
        repos=list(repos),
        outcome=outcome,
        repo=repo if repo in repos else "",
    )
    return page("operations.html.j2", title="Operations", ops=data, outcomes=views.OUTCOMES)


@dataclass(frozen=True)
class Built:
    """The network and its page, for one version of the data behind them."""

    key: tuple[int, ...]
    network: views.Network
    page: str  # /communities, rendered with it
    seconds: float  # how long gathering and rendering took


CACHE = web.AppKey("flywheel_dashboard_cache", dict)


def _key(state: Any) -> tuple[int, ...]:
    """What the pages are built from, as versions: config, facts, index, and (replicas) the
    changes other replicas made."""
    facts, index, replica = state.facts, state.index, state.replica
    return (
        id(state.config),
        facts.version if facts else 0,
        index.version if index else 0,
        replica.changed_elsewhere if replica else 0,
    )


def _build(state: Any, key: tuple[int, ...]) -> Built:
    """Gather and render the network: tens of milliseconds for 500 communities (a thread)."""
    started = time.perf_counter()
    facts, index = state.facts, state.index
    network = views.build_network(
        index.everything() if index else [],
        facts.workflow_issues() if facts else [],
        facts.all_links() if facts else [],
        facts.all_members() if facts else [],
        facts.statuses() if facts else {},
        state.config,
        state.settings.web_url,
    )
    gathered = time.strftime("%H:%M:%S UTC", time.gmtime())
    page = render(
        "communities.html.j2",
        title="Communities",
        network=network,
        picture=graph.layout(network),
        gathered=gathered,
    )
    return Built(key, network, page, time.perf_counter() - started)


async def _built(request: web.Request) -> Built:
    """The network as last gathered; gathered again, beside the event loop, when it changed.

    Between two changes (minutes, for a team) every view is the same page. After
    a change the view in hand gets the page as it was (it says when it was
    gathered) while a thread gathers the new one, so neither a page view nor a
    webhook delivery ever waits for the whole network to be rebuilt; only the
    first view after a start does.
    """
    state = _state(request)
    cache = request.app[CACHE]
    key = _key(state)
    built: Built | None = cache.get("network")
    if built is not None and built.key == key:
        return built
    refresh: asyncio.Task[Built] | None = cache.get("refresh")
    if refresh is None or refresh.done():
        refresh = asyncio.create_task(asyncio.to_thread(_build, state, key))
        refresh.add_done_callback(lambda task: _keep(cache, task))
        cache["refresh"] = refresh
    if built is None:
        return await asyncio.shield(refresh)
    return built


def _keep(cache: dict[str, Any], task: asyncio.Task[Built]) -> None:
    if not task.cancelled() and task.exception() is None:
        cache["network"] = task.result()


async def communities(request: web.Request) -> web.StreamResponse:
    return respond((await _built(request)).page)


async def consortium(request: web.Request) -> web.StreamResponse:
    network = (await _built(request)).network
    slug = request.match_info["slug"]
    found = next((c for c in network.consortia if c.slug == slug), None)
    if found is None:
        return page(
            "missing.html.j2",
            status=404,
            title="No such consortium",
            consortia=network.consortia,
        )
    return page("consortium.html.j2", title=found.issue.title, consortium=found)


async def possible_connections(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    return page(
        "connections.html.j2",
        title="Connections",
        installations=connections.gather(state),
        by_meaning=state.index is not None and state.index.meaning is not None,
        web=state.settings.web_url,
    )


async def decide_connection(request: web.Request) -> web.StreamResponse:
    return await connections.decide(request, _state(request))


def add_routes(app: web.Application, sources: object) -> None:
    app[SOURCES] = sources
    app[CACHE] = {}
    app.router.add_get("/connections", guarded(possible_connections))
    app.router.add_post("/connections", guarded(decide_connection))
    app.router.add_get("/", guarded(operations))
    app.router.add_get("/communities", guarded(communities))
    app.router.add_get("/consortia/{slug}", guarded(consortium))
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
