"""Prometheus metrics, in a registry of their own (one per app, so tests stay apart)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
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

        self.sms_segments = Counter(
            "recoop_sms_segments_total",
            "SMS segments handed to the gateway (the cost; rate over 1d = per day)",
            ["gateway"],
            registry=self.registry,
        )
        self.sms_cap_trips = Counter(
            "recoop_sms_cap_trips_total",
            "Outbound SMS held back by an abuse guard",
            ["guard"],  # number | prefix | country
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "recoop_outbox_rows",
            "Outbox rows by status (read at scrape time)",
            ["status"],
            registry=self.registry,
        )
        self.outbox_oldest_pending = Gauge(
            "recoop_outbox_oldest_pending_seconds",
            "Age of the oldest unsent outbox row (0 when none)",
            registry=self.registry,
        )
        self.payouts = Gauge(
            "recoop_payouts",
            "Payouts by state (read at scrape time)",
            ["state"],
            registry=self.registry,
        )
        self.planner_seconds = Histogram(
            "recoop_planner_seconds",
            "Wall time of one day's planning run",
            registry=self.registry,
            buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
        )
        self.planner_last = Gauge(
            "recoop_planner_last",
            "The last planning run: stops served, stops left, km, rounds",
            ["figure"],
            registry=self.registry,
        )
        self.scheduler_leader = Gauge(
            "recoop_scheduler_leader",
            "1 when this process runs the scheduled jobs",
            registry=self.registry,
        )
        self.scheduled_jobs = Counter(
            "recoop_scheduled_jobs_total",
            "Scheduled job runs by outcome (skipped = already run by another process)",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "recoop_scheduled_job_seconds",
            "Run time of scheduled jobs",
            ["job"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
