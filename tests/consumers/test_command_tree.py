"""The command tree keeps its names, flags, defaults and help texts.

``COMMANDS`` is written down from the tree as it was before the commands moved
to ``consumers/cli/``; ``command_tree.json`` holds that tree's help output and
the options each command parsed to (recorded then, with COLUMNS=100).  The new
tree is walked through its public surface only: each command's ``--help``,
whose usage line names the subcommands below it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consumers.cli import build_parser, main

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).with_name("command_tree.json")).read_text(encoding="utf-8"))

# command path -> (positional arguments, option strings), from the old tree.
COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "": ([], ["--version"]),
    "replay": ([], ["--events", "--directory", "--output", "--rejects", "--summary-json",
                    "--print-alerts", "--partitions", "--config"]),
    "simulate": ([], ["--out", "--employees", "--days", "--seed", "--start", "--malformed-rate",
                      "--scenario-rate", "--benign-rate", "--count"]),
    "baseline": ([], []),
    "baseline fit": ([], ["--events", "--directory", "--out", "--config", "--notes", "--labels",
                          "--partitions"]),
    "baseline evaluate": (["bundle"], ["--events", "--directory", "--labels", "--config",
                                       "--json"]),
    "baseline publish": (["bundle"], ["--to", "--config"]),
    "baseline show": (["bundle"], ["--config"]),
    "audit": ([], []),
    "audit verify": (["path"], ["--key-file", "--anchors"]),
    "report": ([], ["--actions", "--directory", "--events", "--output", "--from", "--to",
                    "--audit-dir", "--audit-heads", "--audit-key-file", "--config",
                    "--bootstrap"]),
    "incident": ([], []),
    "incident scope": (["incident_id"], ["--actions", "--events", "--key-file", "--hours-after",
                                         "--config"]),
    "run": ([], ["--config"]),
    "demo": ([], ["--employees", "--history-days", "--seconds", "--seed", "--partitions",
                  "--metrics-port", "--quiet"]),
    "feed": ([], ["--employees", "--history-days", "--seconds", "--seed", "--config"]),
    "alerts": ([], []),
    "alerts tail": ([], ["--config", "--from-beginning", "--with-freezes", "--severity", "--json",
                         "--colour", "--color", "--max", "--timeout"]),
    "release": (["employee_id"], ["--reason", "--analyst", "--config"]),
    "feedback": (["action_id", "{false-positive}"], ["--employee", "--reason", "--analyst",
                                                      "--config"]),
}

# The least each command needs to parse (its required arguments).
MINIMAL: dict[str, list[str]] = {
    "replay": ["--events", "E", "--directory", "D", "--output", "O"],
    "simulate": ["--out", "O"],
    "baseline fit": ["--events", "E", "--directory", "D", "--out", "O"],
    "baseline evaluate": ["B", "--events", "E", "--directory", "D"],
    "baseline publish": ["B"], "baseline show": ["B"], "audit verify": ["P"],
    "report": ["--output", "O"], "incident scope": ["I", "--actions", "A", "--events", "E"],
    "run": [], "demo": [], "feed": [], "alerts tail": [],
    "release": ["E", "--reason", "R"], "feedback": ["A", "false-positive"],
}


def _help(path: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*path.split(), "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _subcommands(help_text: str) -> list[str]:
    """The subcommands the usage line offers, as ``{a,b,c} ...`` (an option's choices
    have no ``...`` after them)."""
    usage = help_text.split("\n\n", 1)[0]
    found = re.search(r"\{([a-z,-]+)\}\s+\.\.\.", usage)
    return found.group(1).split(",") if found else []


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def test_walking_the_tree_finds_exactly_the_old_commands(
        capsys: pytest.CaptureFixture[str]) -> None:
    found: list[str] = []
    todo = [""]
    while todo:
        path = todo.pop(0)
        found.append(path)
        todo += [f"{path} {name}".strip() for name in _subcommands(_help(path, capsys))]
    assert sorted(found) == sorted(COMMANDS)
    assert _subcommands(_help("", capsys)) == [
        "replay", "simulate", "baseline", "audit", "report", "incident", "run", "demo", "feed",
        "alerts", "release", "feedback"]


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_each_command_keeps_its_help_flags_and_arguments(
        path: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(path, capsys)
    positionals, options = COMMANDS[path]
    for flag in options:
        assert re.search(rf"(^|[\s\[,]){re.escape(flag)}\b", text), (path, flag)
    for name in positionals:
        assert name in text, (path, name)
    assert text == RECORDED["help"][path]


@pytest.mark.parametrize("path", sorted(MINIMAL))
def test_each_command_parses_to_the_old_options_and_defaults(path: str) -> None:
    args = build_parser().parse_args([*path.split(), *MINIMAL[path]])
    assert callable(args.func)
    parsed = {k: (v if isinstance(v, str | int | float | bool | list | type(None)) else str(v))
              for k, v in sorted(vars(args).items()) if not callable(v)}
    assert parsed == RECORDED["parsed"][path]


def test_a_missing_required_option_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["replay", "--events", "E"])
    assert stop.value.code == 2
    assert "--directory" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_tree() -> None:
    done = subprocess.run([sys.executable, "-m", "consumers.cli", "audit", "verify", "--help"],
                          capture_output=True, text=True, env={"COLUMNS": "100"}, check=False)
    assert done.returncode == 0
    assert done.stdout == RECORDED["help"]["audit verify"]


@pytest.mark.parametrize("argv", [["demo", "--employees", "5"], ["feed", "--seconds", "0"]])
def test_demo_and_feed_refuse_a_world_too_small_with_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error: need --employees >= 10" in capsys.readouterr().err
