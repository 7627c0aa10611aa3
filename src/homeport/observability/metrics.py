"""Prometheus metrics, held in a registry per application (nothing global)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "homeport_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "homeport_http_request_duration_seconds",
            "Time to the end of the response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.http_in_flight = Gauge(
            "homeport_http_requests_in_flight", "Requests being served", registry=self.registry
        )
        self.inference_requests = Counter(
            "homeport_inference_requests",
            "Inference requests by outcome",
            ["provider", "model", "operation", "outcome"],
            registry=self.registry,
        )
        self.inference_latency = Histogram(
            "homeport_inference_duration_seconds",
            "Time from request to the last token",
            ["provider", "model", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "homeport_time_to_first_token_seconds",
            "Time from request to the first streamed token",
            ["provider", "model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "homeport_tokens",
            "Tokens processed",
            ["provider", "model", "kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
