"""Prometheus metrics, read from the service's own counters at scrape time.

An explicit registry with one prefix; nothing here names an employee or a
customer, so no label can carry an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from consumers.service import Service

PREFIX = "insider"


class ServiceCollector(Collector):
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        svc, st = self.service, self.service.stats
        yield CounterMetricFamily(f"{PREFIX}_events_consumed", "Access events consumed.",
                                  value=st.events)
        yield CounterMetricFamily(f"{PREFIX}_commands_consumed", "Analyst commands consumed.",
                                  value=st.commands)
        rejects = CounterMetricFamily(f"{PREFIX}_rejects", "Records sent to the dead-letter "
                                      "topic, by reason code.", labels=["reason"])
        for code, n in sorted(st.rejects.items()):
            rejects.add_metric([code], n)
        yield rejects
        actions = CounterMetricFamily(f"{PREFIX}_actions", "Actions published (committed), "
                                      "by type.", labels=["type"])
        for kind, n in sorted(st.actions.items()):
            actions.add_metric([kind], n)
        yield actions
        yield CounterMetricFamily(f"{PREFIX}_checkpoints", "Partition checkpoints committed.",
                                  value=st.checkpoints)
        yield CounterMetricFamily(f"{PREFIX}_checkpoint_seconds", "Time spent in checkpoints.",
                                  value=st.checkpoint_seconds)
        yield GaugeMetricFamily(f"{PREFIX}_last_checkpoint_timestamp_seconds",
                                "When the last checkpoint committed (Unix time).",
                                value=st.last_checkpoint)
        tasks = list(svc.tasks.values())
        yield GaugeMetricFamily(f"{PREFIX}_partitions_owned", "Input partitions this "
                                "instance holds.", value=len(tasks))
        yield GaugeMetricFamily(f"{PREFIX}_employees_tracked", "Employees with a baseline "
                                "in the partitions held.",
                                value=sum(len(t.engine.employees) for t in tasks))
        yield GaugeMetricFamily(f"{PREFIX}_directory_records", "Directory records applied.",
                                value=svc.feed.records if svc.feed is not None else 0)


def serve(service: Service, port: int, host: str = "0.0.0.0") -> tuple[CollectorRegistry, Any]:
    registry = CollectorRegistry()
    registry.register(ServiceCollector(service))
    server, _thread = start_http_server(port, host, registry=registry)
    return registry, server
