from __future__ import annotations

from pathlib import Path

import pytest

from detector.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_equals_defaults() -> None:
    assert load_settings(ROOT / "config" / "detector.toml", {}) == Settings()


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[decisions]\nfreeze = 80\n")
    s = load_settings(cfg, {"INSIDER_DECISIONS__FREEZE": "90", "INSIDER_SCORING__MIN_ROWS": "20",
                            "UNRELATED": "x"})
    assert s.decisions.freeze == 90.0
    assert s.scoring.min_rows == 20


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"INSIDER_DECISIONS__FREZE": "80"}, "decisions.freze: unknown setting"),
        ({"INSIDER_SCORING__MIN_ROWS": "lots"}, "scoring.min_rows: expected int"),
        ({"INSIDER_DECISIONS__ALERT": "95"}, "thresholds"),
        ({"INSIDER_NOPE": "1"}, "nope: unknown setting"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(None, env)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.decisions.alert = 1  # type: ignore[misc]
