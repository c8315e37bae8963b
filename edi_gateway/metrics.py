"""Prometheus metrics, one home for all of them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACCEPTED = Counter("edigw_intake_accepted_total", "Interchanges durably accepted", ["channel"])
INTAKE_FAILED = Counter(
    "edigw_intake_failed_total", "Payloads refused with a temporary failure", ["channel", "reason"]
)
INTAKE_BATCH = Histogram(
    "edigw_intake_batch_size",
    "Interchanges per group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
PROCESSED = Counter("edigw_interchanges_processed_total", "Interchanges finished", ["state"])
DOCUMENTS = Counter("edigw_documents_total", "Documents translated", ["kind", "state"])
QUEUED_LATENCY = Histogram(
    "edigw_receive_to_queued_seconds",
    "From intake commit to the queue item commit",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ACKS = Counter("edigw_acks_total", "Acknowledgements delivered or failed", ["route", "outcome"])
QUEUE_DEPTH = Gauge("edigw_queue_depth", "Visible items per back-office queue", ["queue"])
QUEUE_INFLIGHT = Gauge("edigw_queue_inflight", "Leased items per back-office queue", ["queue"])
QUEUE_DEAD = Gauge("edigw_queue_dead", "Dead letters per back-office queue", ["queue"])
AS2_CERTIFICATE_DAYS = Gauge(
    "edigw_as2_certificate_days_to_expiry",
    "Days until an AS2 certificate expires (negative: expired); owner is a partner id or us",
    ["owner", "serial"],
)
