"""``insider-detector run``: the streaming service on Kafka (:mod:`consumers.service`)."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from kafka.errors import KafkaError

from consumers import logs
from consumers.cli.common import CONFIG_HELP, install_stop_signals, settings_of
from consumers.connect_errors import watch_connections
from consumers.errors import ConnectFailure
from consumers.service import Service


def add_parser(sub: Any) -> None:
    rn = sub.add_parser("run", help="score the events topic live, on Kafka")
    rn.add_argument("--config", help=CONFIG_HELP)
    rn.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    logs.setup(settings.service.log_level)
    stop = threading.Event()
    install_stop_signals(stop)
    with watch_connections() as failures:
        try:
            return Service(settings, stop=stop).run()
        except KafkaError as exc:
            why = failures.explain(settings.kafka)
            if why is None:
                raise
            raise ConnectFailure(why) from exc
