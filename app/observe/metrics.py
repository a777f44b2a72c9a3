"""Process-wide counters rendered as Prometheus text for ``GET /metrics``.

Small on purpose: counters and sums keyed by label tuples are all Flywheel
exposes, so a client library would add weight without adding anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

LabelSet = tuple[tuple[str, str], ...]


def _labels(labels: dict[str, str]) -> LabelSet:
    return tuple(sorted(labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._help: dict[str, tuple[str, str]] = {}
        self._values: dict[str, dict[LabelSet, float]] = defaultdict(lambda: defaultdict(float))
        self._gauges: dict[str, Callable[[], float]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._values[name][_labels(labels)] += amount

    def gauge(self, name: str, read: Callable[[], float], text: str) -> None:
        """A value read at scrape time (queue depth), so it can never drift."""
        self._gauges[name] = read
        self.describe(name, "gauge", text)

    def render(self) -> str:
        lines: list[str] = []
        names = sorted(set(self._values) | set(self._gauges))
        for name in names:
            kind, text = self._help.get(name, ("counter", name))
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            if name in self._gauges:
                lines.append(f"{name} {self._gauges[name]()}")
                continue
            for labelset, value in sorted(self._values[name].items()):
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labelset)
                lines.append(f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}")
        return "\n".join(lines) + "\n"


def standard_metrics() -> Metrics:
    metrics = Metrics()
    metrics.describe("flywheel_deliveries_total", "counter", "Deliveries by event and outcome.")
    metrics.describe(
        "flywheel_github_calls_total", "counter", "GitHub API calls by kind and status."
    )
    metrics.describe(
        "flywheel_processing_seconds_sum", "counter", "Seconds spent processing deliveries."
    )
    metrics.describe(
        "flywheel_processing_seconds_count", "counter", "Deliveries whose time was summed."
    )
    metrics.describe("flywheel_retries_total", "counter", "Deliveries postponed for a retry.")
    return metrics
