"""``insider-detector demo``: the whole service on an embedded broker, in one command.

Starts Tansu on a free loopback port, creates the topics, simulates a CRM
world with insider scenarios, loads its first weeks as history at full speed,
then streams the last week at an accelerated clock while the detector runs
and prints each alert, freeze and release as it is committed.  Ends with a
summary that includes which simulated insiders were caught.  Ctrl-C stops
the producer, then the detector (which commits), then the broker.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.broker import EmbeddedBroker, free_port
from consumers.errors import BrokerError
from consumers.feed import publish, simulate
from consumers.service import Service
from consumers.topics import ensure_topics
from detector.analysis.evaluation import evaluate
from detector.settings import KafkaSettings, ServiceSettings, Settings, TopicSettings
from detector.wire.actions import Action


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The simulated world and how fast it is played (``insider-detector demo``'s options)."""

    employees: int
    history_days: int
    seconds: float
    seed: int
    partitions: int
    metrics_port: int


def run_demo(options: DemoOptions, stop: threading.Event,
             show: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Run the demo until the week is played or ``stop`` is set; ``show`` sees each action."""
    from consumers import logs

    logs.setup("ERROR")  # the demo prints actions and a summary; rejects are counted
    work = Path(tempfile.mkdtemp(prefix="insider-demo-"))
    say = _Say()
    say(f"simulating {options.employees} employees over {options.history_days + 7} days "
        f"(seed {options.seed}) ...")
    world = simulate(options.employees, options.history_days, options.seed, work)
    labels = world.labels
    try:
        broker = EmbeddedBroker(log=work / "broker.log").start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metrics_port = options.metrics_port or free_port()
    settings = Settings(
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap, group_id="insider-demo",
                            session_timeout_ms=2000, heartbeat_interval_ms=500),
        topics=TopicSettings(partitions=options.partitions),
        service=ServiceSettings(metrics_port=metrics_port, metrics_host="127.0.0.1",
                                state_key=secrets.token_hex(16)),
    )
    actions: list[dict[str, Any]] = []

    def on_action(act: Action) -> None:
        d = act.to_dict()
        actions.append(d)
        if show is not None:
            show(d)

    service = Service(settings, on_action=on_action, stop=stop)
    code = 0
    finished = False
    try:
        say(f"broker: Tansu at {broker.bootstrap}; metrics: http://127.0.0.1:{metrics_port}/metrics")
        ensure_topics(settings)
        worker = threading.Thread(target=_serve, args=(service,), daemon=True)
        worker.start()
        began = time.monotonic()

        def caught_up(n: int) -> None:
            _wait_for(service, n, stop)
            say(f"history scored in {time.monotonic() - began:.1f} s")

        publish(settings, world, options.seconds, stop, say, after_history=caught_up)
        _wait_for(service, world.events, stop)
        time.sleep(settings.service.commit_interval_ms / 1000.0 * 3)
        finished = not stop.is_set()
    except KeyboardInterrupt:
        stop.set()
    except Exception as exc:  # say what failed, then clean up
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    finally:
        stop.set()
        if service.consumer is not None or service.tasks:
            deadline = time.monotonic() + 15
            while service.consumer is not None and time.monotonic() < deadline:
                time.sleep(0.05)
        broker.stop()
    if not finished:
        say("stopped before the end of the week: figures below cover what was scored")
    _summary(service, actions, labels, say)
    return code


def _serve(service: Service) -> None:
    try:
        service.run()
    except Exception as exc:  # the main thread reports and stops
        print(f"error: detector stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        service.stop_event.set()


def _wait_for(service: Service, n: int, stop: threading.Event) -> None:
    while not stop.is_set() and service.stats.events < n:  # rejected events included
        stop.wait(0.1)


class _Say:
    def __call__(self, text: str) -> None:
        print(f"== {text}", file=sys.stderr, flush=True)


def _summary(service: Service, actions: list[dict[str, Any]], labels: dict[str, Any],
             say: _Say) -> None:
    st = service.stats
    kinds: dict[str, int] = {}
    for a in actions:
        key = a["type"] if a["type"] != "alert" else f"alert {a['severity']}"
        kinds[key] = kinds.get(key, 0) + 1
    rejects = sum(st.rejects.values())
    say(f"summary: {st.events:,} events scored, {rejects:,} dead-lettered, "
        f"{st.commands:,} commands, {st.checkpoints:,} checkpoints")
    say("actions: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"))
    ev = evaluate(labels, actions)
    caught = sum(1 for r in ev.scenarios if r.detected)
    say(f"insiders caught: {caught} of {len(ev.scenarios)} simulated scenarios; "
        f"{ev.false_employee_days} false-alerted employee-days of {ev.employee_days:,}")
    for r in ev.scenarios:
        mark = "caught" if r.detected else "missed"
        say(f"  {mark:<7} {r.kind:<24} {r.employee_id}")


__all__ = ["DemoOptions", "run_demo"]
