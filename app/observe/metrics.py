"""What ``GET /metrics`` exposes, through ``prometheus_client``: the exposition format and
histogram buckets are the library's, so Prometheus parses them and percentiles can be graphed.

Each App (and each test's App) has its own registry. Counters count each thing once: a
webhook at the door (``flywheel_webhooks_total``), a delivery when it reaches its final
state (``flywheel_deliveries_total``), so a redelivery or a retry does not add to the wrong
one. Gauges are read at scrape time and so never drift.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# The text format every Prometheus reads; our names are plain ASCII, so the library's output
# is the same under 0.0.4 and its newer 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Intake answers in milliseconds; deliveries take from a fraction of a second to minutes
# when GitHub is slow or a retry waits; one GitHub call from tens of milliseconds to seconds.
INTAKE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The App's instruments, each declared once with its help text and label names."""

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series say when the process started: noise
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter(
            "flywheel_webhooks",
            "Webhook requests that passed the door, by event and what became of them "
            "(accepted, duplicate, ignored).",
            ["event", "outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "flywheel_rejected", "Webhook requests refused at the door, by reason.", ["reason"],
            registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "flywheel_deliveries",
            "Deliveries that reached a final state (done or failed), once each.",
            ["event", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "flywheel_retries", "Delivery attempts postponed for a retry.", ["event"], registry=r
        )
        self.github_calls = Counter(
            "flywheel_github_calls",
            "GitHub API calls by kind (rest, graphql) and status.",
            ["kind", "status"],
            registry=r,
        )
        self.intake_seconds = Histogram(
            "flywheel_intake_seconds",
            "From the request read to the answer sent: verify, parse, journal.",
            registry=r,
            buckets=INTAKE_BUCKETS,
        )
        self.delivery_seconds = Histogram(
            "flywheel_delivery_seconds",
            "From receipt to every action applied (or the delivery failed), retries included.",
            ["event"],
            registry=r,
            buckets=DELIVERY_BUCKETS,
        )
        self.processing_seconds = Histogram(
            "flywheel_processing_seconds",
            "Time of the final attempt of a delivery: handlers and executor.",
            registry=r,
            buckets=DELIVERY_BUCKETS,
        )
        self.github_call_seconds = Histogram(
            "flywheel_github_call_seconds",
            "One GitHub call, by operation (method and route, or graphql).",
            ["operation"],
            registry=r,
            buckets=CALL_BUCKETS,
        )

    def gauge(self, name: str, read: Callable[[], float], text: str) -> None:
        """A value read at scrape time (queue depth), so it can never drift."""
        Gauge(name, text, registry=self.registry).set_function(read)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def standard_metrics() -> Metrics:
    return Metrics()
