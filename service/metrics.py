"""Prometheus metrics, in a registry of their own (one per app, so tests stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """Every metric the service exports."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound_sms = Counter(
            "recoop_inbound_sms_total",
            "Inbound SMS by what the parser understood",
            ["intent"],
            registry=self.registry,
        )
        self.outbound_sms = Counter(
            "recoop_outbound_sms_total",
            "Outbox SMS outcomes",
            ["outcome"],
            registry=self.registry,
        )
        self.http_requests = Histogram(
            "recoop_http_request_seconds",
            "HTTP request latency by route and status",
            ["route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
