"""The network picture: communities on a circle, joined by shared needs and consortia.

Drawn on the server as SVG (no script): positions are computed here, the
template only prints them. A circle keeps every community findable in the
same place from one visit to the next (they are placed in name order), and
lines across it show who shares what. Communities with no tie are left to
the table below the picture, so a large network stays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .views import Network

SIZE = 720  # the largest picture, in user units; it scales with the page
SMALLEST = 380  # a few communities: a small picture, so its names are read at a readable size
MARGIN = 130  # room for names around the circle
LABELS_UP_TO = 80  # more communities than this: names are in tooltips and the table


@dataclass(frozen=True)
class Node:
    slug: str
    x: float
    y: float
    r: float
    label_x: float
    label_y: float
    anchor: str  # text-anchor: names sit outside the circle, on the side they are on
    ties: int


@dataclass(frozen=True)
class Line:
    a: str
    b: str
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    kind: str  # "need", "consortium" or "both"
    title: str


@dataclass(frozen=True)
class Picture:
    size: int
    nodes: list[Node]
    lines: list[Line]
    labelled: bool


def layout(network: Network) -> Picture:
    tied = sorted({e.a for e in network.edges} | {e.b for e in network.edges})
    ties = {slug: 0 for slug in tied}
    for edge in network.edges:
        ties[edge.a] += 1
        ties[edge.b] += 1
    # Sized to its content: three communities do not float in a 720-unit square of nothing.
    size = int(min(SIZE, max(SMALLEST, 200 + 40 * len(tied))))
    centre, radius = size / 2, size / 2 - min(MARGIN, size * 0.3)
    nodes: dict[str, Node] = {}
    for i, slug in enumerate(tied):
        angle = 2 * math.pi * i / max(1, len(tied)) - math.pi / 2
        cos, sin = math.cos(angle), math.sin(angle)
        nodes[slug] = Node(
            slug=slug,
            x=round(centre + radius * cos, 1),
            y=round(centre + radius * sin, 1),
            r=round(min(14.0, 4 + 2 * math.sqrt(ties[slug])), 1),
            label_x=round(centre + (radius + 20) * cos, 1),
            label_y=round(centre + (radius + 20) * sin + 4, 1),
            anchor="start" if cos >= 0 else "end",
            ties=ties[slug],
        )
    lines = []
    for edge in network.edges:
        a, b = nodes[edge.a], nodes[edge.b]
        kind = "both" if edge.needs and edge.consortia else ("need" if edge.needs else "consortium")
        parts = []
        if edge.needs:
            parts.append(f"{edge.needs} shared need" + ("s" if edge.needs > 1 else ""))
        if edge.consortia:
            parts.append("consortium " + ", ".join(edge.consortia))
        lines.append(
            Line(
                a=edge.a,
                b=edge.b,
                x1=a.x,
                y1=a.y,
                x2=b.x,
                y2=b.y,
                width=round(min(6.0, 1 + edge.needs + len(edge.consortia)), 1),
                kind=kind,
                title=f"{edge.a} and {edge.b}: " + "; ".join(parts),
            )
        )
    return Picture(size, list(nodes.values()), lines, labelled=len(nodes) <= LABELS_UP_TO)
