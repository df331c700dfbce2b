"""One exception root: every error the core and the models raise on purpose is a
DetectorError, and the command line maps it to one line and its exit code."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from consumers.cli import main
from detector.errors import DetectorError, InvalidRecord
from models.errors import DetectorError as ModelsRoot

ROOT = Path(__file__).resolve().parents[2]


def _error_classes() -> list[tuple[str, str]]:
    found = []
    for package in ("detector", "models"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                    found.append((module.removesuffix(".__init__"), node.name))
    return found


def test_the_root_is_defined_once() -> None:
    assert DetectorError is ModelsRoot


@pytest.mark.parametrize(("module", "name"), _error_classes())
def test_every_error_class_is_beneath_the_root(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, DetectorError), f"{module}.{name} is not a DetectorError"


def test_the_error_classes_are_found() -> None:
    names = {name for _, name in _error_classes()}
    assert {"SettingsError", "BundleError", "SnapshotError", "AuditError"} <= names


def test_invalid_record_is_beneath_the_root() -> None:
    assert issubclass(InvalidRecord, DetectorError)


def test_the_cli_maps_an_error_to_one_line_and_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(b"not a bundle")
    code = main(["baseline", "show", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and "Traceback" not in err


def test_a_settings_error_exits_2_with_the_setting_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "detector.toml"
    cfg.write_text("[scoring]\nno_such_setting = 1\n")
    events = tmp_path / "e.jsonl"
    events.write_text("")
    code = main(["replay", "--events", str(events), "--directory", str(events),
                 "--output", str(tmp_path / "out.jsonl"), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: setting ") and "no_such_setting" in err
