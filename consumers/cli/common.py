"""What the commands share: the settings option, error lines, stop signals, action lines."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from detector.settings import Settings, load_settings

CONFIG_HELP = "settings file (TOML); INSIDER_* variables override it"

_SEVERITY_COLOURS = {"low": "36", "medium": "33", "high": "31", "critical": "1;31"}


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings a command runs with: its ``--config`` file, then INSIDER_* variables."""
    return load_settings(args.config, os.environ)


def fail(message: str) -> int:
    """One line on stderr and exit code 2: a file or option the command cannot use."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the batch in hand, commit, and exit 0."""

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def print_action(a: dict[str, object]) -> None:
    """One readable line per action on stderr (colour only on a terminal)."""
    colour = sys.stderr.isatty()
    sev = str(a.get("severity", ""))
    kind = str(a.get("type", "")).upper()
    tag = f"{kind:<7} {sev:<8}"
    if colour:
        tag = f"\033[{_SEVERITY_COLOURS.get(sev, '0')}m{tag}\033[0m"
    when = str(a.get("event_time", ""))
    if kind == "ALERT":
        text = f"score {a.get('score')}: {a.get('summary')}"
    elif kind == "FREEZE":
        text = f"data-out rights of {a.get('employee_id')} frozen until {a.get('expires_at')}"
    else:
        text = str(a.get("summary", ""))
    print(f"{when}  {tag} {text}", file=sys.stderr)
