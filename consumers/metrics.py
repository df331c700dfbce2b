"""Prometheus metrics and health endpoints for the service.

One explicit registry, one prefix (``insider_``).  The loop keeps plain
counters and figures in ``ServiceStats``; this module turns them into metric
families when Prometheus scrapes, so the hot path pays no locking.  No label
carries an employee or customer id: reasons, severities, types and
partition numbers only.

``/healthz`` fails when the consume loop has not turned for
``service.stall_seconds``, or an assigned input partition with input waiting
has not moved for as long (``insider_partition_stalled``); ``/readyz`` fails
until the directory is loaded and every assigned partition's state restored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.registry import Collector

from consumers.bundle_watch import BundleWatch
from consumers.directory_feed import DirectoryFeed
from consumers.stats import BucketCounts, ServiceStats
from detector import __version__
from detector.settings import Settings


class Observed(Protocol):
    """What the metrics and health endpoints read of the service."""

    settings: Settings
    stats: ServiceStats
    bundles: BundleWatch | None
    feed: DirectoryFeed | None

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...

PREFIX = "insider"

# Score buckets end at the default severity thresholds (40 alert, 55 medium,
# 70 high, 85 critical) so that a SIEM can count each band from the buckets.
SCORE_BOUNDS = (10, 20, 30, 40, 55, 70, 85, 95, 100)
def _family(counts: BucketCounts, name: str, doc: str) -> HistogramMetricFamily:
    cumulative, running = [], 0
    for bound, n in zip((*counts.bounds, float("inf")), counts.counts, strict=True):
        running += n
        cumulative.append((_le(bound), running))
    return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=counts.total)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class ServiceCollector(Collector):
    def __init__(self, service: Observed) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        svc, st = self.service, self.service.stats
        p = PREFIX
        info = InfoMetricFamily(f"{p}_build", "Detector version and the model it scores with.")
        bundles = svc.bundles
        current = bundles.bundle if bundles is not None else None
        info.add_metric([], {"version": __version__,
                             "model_version": current.version if current is not None
                             else svc.settings.model_version,
                             "delivery": svc.settings.service.delivery})
        yield info
        bundle = InfoMetricFamily(f"{p}_bundle", "The baseline bundle in use (none: "
                                  "baselines learned online from nothing).")
        if current is not None:
            md = current.metadata
            bundle.add_metric([], {"version": current.version, "created_at": md.created_at,
                                   "last_event": md.last_event or ""})
        yield bundle
        yield CounterMetricFamily(f"{p}_bundle_swaps", "Bundles loaded (at start or "
                                  "published while running).",
                                  value=bundles.swaps if bundles is not None else 0)
        yield CounterMetricFamily(f"{p}_bundle_refused", "Published bundles refused "
                                  "(damaged, foreign, wrongly signed or not matching the "
                                  "topic).", value=bundles.refused if bundles is not None else 0)
        yield CounterMetricFamily(f"{p}_events_consumed", "Access events consumed (valid or "
                                  "not).", value=st.events)
        by_action = CounterMetricFamily(
            f"{p}_events", "Events decided, by action and outcome (normal: below the alert "
            "threshold and learned; suspicious: at or above it and kept out of the baseline; "
            "duplicate: an event id seen lately, skipped; rejected: invalid).",
            labels=["action", "outcome"])
        for (action, outcome), n in sorted(st.outcomes.items()):
            by_action.add_metric([action, outcome], n)
        if st.event_rejects:
            by_action.add_metric(["invalid", "rejected"], st.event_rejects)
        yield by_action
        yield CounterMetricFamily(f"{p}_commands_consumed", "Analyst commands consumed.",
                                  value=st.commands)
        yield _labelled(CounterMetricFamily, f"{p}_rejects", "Records sent to the dead-letter "
                        "topic, by reason code.", ["reason"], st.rejects.items())
        yield _labelled(CounterMetricFamily, f"{p}_actions", "Actions committed, by type.",
                        ["type"], st.actions.items())
        alerts = CounterMetricFamily(f"{p}_alerts", "Alerts committed, by severity and top "
                                     "reason code.", labels=["severity", "reason"])
        for (sev, code), n in sorted(st.alerts.items()):
            alerts.add_metric([sev, code], n)
        yield alerts
        yield _labelled(CounterMetricFamily, f"{p}_releases", "Freezes released, by why.",
                        ["reason"], st.releases.items())
        yield GaugeMetricFamily(f"{p}_freezes_active", "Freezes in force in the partitions "
                                "held.", value=st.freezes_active)
        yield _scores(st.scores)
        yield _family(st.decision, f"{p}_decision_seconds", "From a batch's arrival to the "
                                 "decision on its last event.")
        yield _family(st.event_lag, f"{p}_event_lag_seconds", "Wall clock minus event time "
                                  "when the last event of a batch is decided.")
        yield _family(st.checkpoint_time, f"{p}_checkpoint_seconds", "Time a checkpoint "
                                        "takes (all tasks' transactions).")
        yield CounterMetricFamily(f"{p}_restores", "Partition states restored from the "
                                  "changelog.", value=st.restores)
        yield CounterMetricFamily(f"{p}_state_entries_read", "Changelog entries read while "
                                  "restoring.", value=st.state_entries_read)
        yield CounterMetricFamily(f"{p}_state_entries_refused", "Changelog entries refused "
                                  "(bad signature, foreign or damaged).",
                                  value=st.state_entries_refused)
        yield CounterMetricFamily(f"{p}_peer_late_events", "Events of a day their partition "
                                  "had already closed for the shared peer table (judged "
                                  "with a view that may differ from replay's).",
                                  value=st.peer_late_events)
        yield GaugeMetricFamily(f"{p}_peer_held_events", "Events held until every partition "
                                "has closed the day before theirs.", value=st.peer_held)
        yield GaugeMetricFamily(f"{p}_last_checkpoint_timestamp_seconds",
                                "When the last checkpoint committed (Unix time).",
                                value=st.last_checkpoint)
        lag = GaugeMetricFamily(f"{p}_consumer_lag", "Events not yet consumed, per input "
                                "partition held.", labels=["partition"])
        for part, n in sorted(st.lag.items()):
            lag.add_metric([str(part)], n)
        yield lag
        stalled = GaugeMetricFamily(f"{p}_partition_stalled", "1 for an assigned input "
                                    "partition with input waiting and no progress for "
                                    "service.stall_seconds (/healthz then fails), else 0.",
                                    labels=["input", "partition"])
        for role, part in sorted(st.watched):
            stalled.add_metric([role, str(part)], 1.0 if (role, part) in st.stalled else 0.0)
        yield stalled
        yield GaugeMetricFamily(f"{p}_partitions_owned", "Input partitions this instance "
                                "holds.", value=st.partitions)
        yield GaugeMetricFamily(f"{p}_employees_tracked", "Employees with a baseline in the "
                                "partitions held.", value=st.employees)
        yield GaugeMetricFamily(f"{p}_directory_records", "Directory records applied.",
                                value=svc.feed.records if svc.feed is not None else 0)
        yield GaugeMetricFamily(f"{p}_up", "1 while the consume loop turns and no partition "
                                "is stalled (see /healthz).",
                                value=1.0 if svc.healthy() else 0.0)


def _labelled(kind: Callable[..., Any], name: str, doc: str, labels: list[str],
              items: Iterable[tuple[str, int]]) -> Any:
    fam = kind(name, doc, labels=labels)
    for key, n in sorted(items):
        fam.add_metric([key], n)
    return fam


def _scores(by_score: list[int]) -> HistogramMetricFamily:
    """The engines' per-score counts, grouped into SCORE_BOUNDS buckets."""
    counts = BucketCounts(SCORE_BOUNDS)
    for score, n in enumerate(by_score):
        if n:
            counts.observe(score, n)
    return _family(counts, f"{PREFIX}_score", "Risk scores of the events scored (0-100).")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(service: Observed, port: int, host: str = "0.0.0.0") -> tuple[CollectorRegistry, Any]:
    """Serve /metrics, /healthz and /readyz on a daemon thread; returns the server."""
    registry = CollectorRegistry()
    registry.register(ServiceCollector(service))
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok = service.healthy() if path == "/healthz" else service.ready()
            body = b"ok\n" if ok else b"not ok\n"
            start("200 OK" if ok else "503 Service Unavailable",
                  [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        return metrics(environ, start)  # type: ignore[no-any-return]

    server = make_server(host, port, app, _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return registry, server
