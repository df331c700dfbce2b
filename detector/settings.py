"""Settings: one frozen object, built once at start from a file and the environment.

Only the entry points call :func:`load_settings`; every other module receives
the object it needs.  Environment variables override the file:
``INSIDER_<SECTION>__<NAME>``, e.g. ``INSIDER_DECISIONS__FREEZE=80``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import DetectorError

ENV_PREFIX = "INSIDER_"


class SettingsError(DetectorError, ValueError):
    """A setting that is missing, unknown or of the wrong type; names the setting."""

    label = "setting "


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    # Top of an employee's usual range, in standard deviations of log volume.
    k_band: float = 2.5
    # Points for each doubling above the top of the usual range.
    points_per_doubling: float = 18.0
    # Data-out actions per day are counted, not measured: each doubling weighs more.
    points_per_doubling_actions: float = 30.0
    volume_cap: float = 60.0
    # Data-out actions smaller than this never count as a volume or territory anomaly.
    min_rows: int = 50
    # Smaller data-out actions (a file, a short print) do not teach the per-action
    # band: mixed with list exports they would widen it until lists looked ordinary.
    band_min_rows: int = 10
    # The top of the usual range is never taken below this many rows.
    volume_floor_rows: int = 150
    # Observations before an own baseline replaces the peer group's, and a peer
    # group's replaces the global one.
    own_warmup: int = 5
    peer_warmup: int = 20
    # No baseline is trusted on fewer days of history than this.
    min_history_days: float = 3.0
    # Doublings of extra room for data-out volume at month-end closes.
    month_end_tolerance: float = 1.0
    # Slow escalation: CUSUM of log rows over the anchor in sds (capped at 1); each
    # step must exceed half an sd (an honest export's clipped z averages +0.1), more
    # for someone whose sizes spread beyond the cap.
    cusum_allowance: float = 0.5
    cusum_threshold: float = 3.5
    # ...built up over at least this many separate days.
    escalation_rising_days: int = 4
    # Under notice the limit, the rising days and every rise's allowance are
    # multiplied by this: a ramp is summed from its first days, while an honest
    # leaver's steps (mean about +0.1 before the allowance) still drift down.
    notice_cusum_factor: float = 0.6
    # The most the rise may grow in one local day.
    cusum_daily_gain: float = 1.5
    escalation_points: float = 45.0
    escalation_min_exports: int = 25
    escalation_min_days: float = 10.0
    # Finished days with data out before daily totals are summed for a rise.
    escalation_min_active_days: int = 8
    # Daily totals swing more: a day adds only beyond a full (capped) sd above.
    day_rise_allowance: float = 1.0
    offhours_points: float = 40.0
    offhours_margin_minutes: int = 60
    # An hour is rare for someone when it is used less than this share of a usual hour.
    rare_hour: float = 0.15
    profile_min_active_hours: int = 40
    territory_points: float = 60.0
    tier_points: float = 10.0
    # Data-out risk is raised by this share while the employee is under notice.
    notice_factor: float = 0.5
    terminated_points: float = 95.0
    # Activity this soon after a change to leave/terminated is the running shift.
    status_grace_seconds: int = 3600
    leave_points: float = 85.0
    unknown_points: float = 10.0
    new_device_points: float = 8.0
    new_country_points: float = 15.0
    identity_min_events: int = 50
    identity_min_days: float = 3.0
    travel_points: float = 55.0
    travel_min_km: float = 500.0
    travel_max_kmh: float = 1000.0
    harvest_min_distinct: int = 30
    # Fewer distinct customers in ten minutes than this never count as a fast harvest.
    pace_min_distinct: int = 10
    # Look-ups of the same one to three customers in half an hour that always
    # count: one every 90 seconds, beyond what reading a record or coming back to
    # a case between calls (every ten to twenty minutes) needs.
    lookup_min_count: int = 20
    lookup_points: float = 40.0
    lookup_cap: float = 70.0
    # Records deleted / updated in an hour that always count: a person deleting
    # by hand does a few dozen (a month-end dedupe); 500 updates an hour are a
    # bulk job.  Learned hourly peaks raise them for those whose work does more.
    delete_floor_1h: int = 100
    update_floor_1h: int = 500
    change_points: float = 40.0
    change_cap: float = 70.0
    # Two devices of one account within this many seconds, this far apart (beyond IP
    # geolocation's error in a region) and faster than ``travel_max_kmh``: two people.
    concurrent_window_seconds: float = 900.0
    concurrent_min_km: float = 300.0
    concurrent_points: float = 55.0
    # Fewer data-out actions in a day than this never count as chunking.
    chunk_min_actions: int = 6
    # Data-out actions in ten minutes that always count as a burst: each takes a
    # minute or more by hand, so four moving ``burst_min_rows`` or more is paging a
    # list in chunks.  A learned usual burst raises it to half again that burst.
    burst_min_actions: int = 4
    burst_min_rows: int = 150
    burst_points: float = 40.0
    burst_cap: float = 70.0
    # Export frequency rising over weeks: days' data-out counts summed in doublings
    # over a slow anchor, less half a doubling a day (a busy 1.4x adds nothing).  Four
    # over five rising days is a count doubled for a week and more, which a
    # month-end cannot reach; a steady heavy exporter's anchor is their own count.
    frequency_allowance: float = 0.5
    frequency_threshold: float = 4.0
    frequency_rising_days: int = 5
    # Under notice: rows out since notice against as many ordinary days (this many
    # learned): twice their sum, this many spreads and rows above (a handover).
    departure_min_days: int = 5
    departure_min_excess: int = 500
    departure_ratio: float = 2.0
    departure_z: float = 3.0
    departure_points: float = 30.0
    departure_cap: float = 50.0
    # A peer-group surge: at least this many others, and this share of the
    # group's exporters today, also moved unusual volumes.
    surge_min_others: int = 3
    surge_min_share: float = 0.25
    surge_factor: float = 0.3
    # Peer baselines shared by every task (models.peer_table): decisions then do not
    # depend on the partition count.
    shared_peers: bool = True
    # Most observations one member adds to their group per quantity and day.
    peer_member_cap: float = 3.0
    # What a day's contributions still weigh a day later (about two weeks' memory).
    peer_day_decay: float = 0.93
    # An idle caught-up partition closes the hours others closed after this long;
    # its events for a closed hour are late (their view may differ from replay's).
    peer_close_grace_s: float = 30.0
    # Events held while waiting for the other partitions; beyond, read again later.
    peer_hold_max: int = 50_000


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    alert: float = 40.0
    medium: float = 55.0
    high: float = 70.0
    critical: float = 85.0
    freeze: float = 75.0
    freeze_ttl_seconds: int = 86400
    # An incident with no new alert-level evidence for this long is closed.
    incident_quiet_seconds: int = 86400


@dataclass(frozen=True, slots=True)
class InputSettings:
    max_event_bytes: int = 65536
    # The service refuses events stamped further ahead of its clock than this:
    # one far-future timestamp would move event time on and end every freeze.
    max_future_seconds: float = 600.0


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
DELIVERY_MODES = ("exactly_once", "at_least_once")
ALERT_FORMATS = ("native", "ocsf")


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """How to reach the cluster; passed through to kafka-python as they are."""

    bootstrap_servers: str = "localhost:9092"  # comma-separated host:port list
    group_id: str = "insider-detector"
    client_id: str = "insider-detector"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)  # kept out of logs; prefer *_file
    sasl_password_file: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_password: str = field(default="", repr=False)
    ssl_check_hostname: bool = True
    # Failure detection: a dead instance's partitions move after this long.
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    max_poll_records: int = 2000
    # A loop that does not poll for this long leaves the group; its partitions are lost.
    max_poll_interval_ms: int = 300000
    # How long the broker may hold a fetch with nothing new (latency after a quiet spell).
    fetch_max_wait_ms: int = 50
    # A checkpoint's transaction step fails after twice this long.
    request_timeout_ms: int = 30000

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]


@dataclass(frozen=True, slots=True)
class TopicSettings:
    events: str = "crm.access-events"
    directory: str = "hr.employee-directory"
    commands: str = "security.commands"
    alerts: str = "security.alerts"
    freeze_commands: str = "crm.freeze-commands"
    dead_letter: str = "insider.dead-letter"
    changelog: str = "insider.baseline-changelog"
    audit_heads: str = "insider.audit-heads"  # audit trail heads: a cut-off end shows
    peer_stats: str = "insider.peer-stats"  # shared peer table contributions, closed hours
    create: bool = True
    # Used only when creating: events, commands and changelog share this count
    # (they are co-partitioned: partition p of each belongs to the same task).
    partitions: int = 6
    replication_factor: int = 1


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    delivery: str = "exactly_once"
    # A transaction (outputs + state + offsets) is committed at least this often;
    # it bounds how long an action waits before read-committed consumers see it.
    commit_interval_ms: int = 50
    alert_format: str = "native"
    transactional_id_prefix: str = "insider-detector"
    # Key for signing state snapshots; without it snapshots are still loaded
    # only through an allow-list of classes.
    state_key: str = field(default="", repr=False)
    state_key_file: str = ""
    # How long a false-positive verdict keeps the same pattern quiet.
    false_positive_suppress_seconds: int = 7 * 86400
    # A partition with no events for this long (wall clock) moves its event time
    # on at the wall clock's pace, so that its freezes still expire.
    idle_expiry_after_s: float = 60.0
    # Reading the directory and peer table, or restoring a partition's state, to
    # the end fails only when nothing arrives for this long (never for its length).
    directory_load_timeout_s: float = 120.0
    restore_stall_s: float = 120.0
    metrics_port: int = 9464
    # /healthz fails when the consume loop has not turned for this long, or an
    # assigned input partition with input waiting has not moved for as long.
    stall_seconds: float = 30.0
    metrics_host: str = "0.0.0.0"
    log_level: str = "INFO"
    # A published baseline bundle (`insider-detector baseline publish`); "" for
    # none.  Checked every bundle_check_s and swapped in when it changes.
    bundle_path: str = ""
    bundle_check_s: float = 5.0
    # Take the alert, severity and freeze thresholds from the bundle too.
    bundle_thresholds: bool = True
    # A hash-chained audit trail of actions and commands per partition in this
    # directory ("" for none); keyed with the secret in audit_key_file if set;
    # its head goes to topics.audit_heads every audit_head_every_s.
    audit_dir: str = ""
    audit_key_file: str = ""
    audit_head_every_s: float = 60.0
    # The pseudonym key for incident scopes (`incident scope`): held by the
    # CRM's owner, who alone maps the references back to customers.
    scope_key: str = field(default="", repr=False)
    scope_key_file: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    decisions: DecisionSettings = field(default_factory=DecisionSettings)
    input: InputSettings = field(default_factory=InputSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: TopicSettings = field(default_factory=TopicSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    model_version: str = "online"

    def __post_init__(self) -> None:
        d = self.decisions
        if not 0 < d.alert <= d.medium <= d.high <= d.critical <= 100:
            raise SettingsError(
                "decisions: thresholds must satisfy 0 < alert <= medium <= high <= critical <= 100"
            )
        if not d.alert <= d.freeze <= 100:
            raise SettingsError("decisions.freeze: must lie between decisions.alert and 100")
        k, t, v = self.kafka, self.topics, self.service
        for name, value, least, strict in (
            ("decisions.freeze_ttl_seconds", d.freeze_ttl_seconds, 0, True),
            ("service.audit_head_every_s", v.audit_head_every_s, 0, True),
            ("service.bundle_check_s", v.bundle_check_s, 0, True),
            ("service.directory_load_timeout_s", v.directory_load_timeout_s, 0, True),
            ("service.restore_stall_s", v.restore_stall_s, 0, True),
            ("input.max_future_seconds", self.input.max_future_seconds, 0, False),
            ("scoring.peer_close_grace_s", self.scoring.peer_close_grace_s, 0, True),
            ("scoring.peer_hold_max", self.scoring.peer_hold_max, 1, False),
        ):
            if value < least or (strict and value == least):
                raise SettingsError(f"{name}: must be {'>' if strict else '>='} {least}")
        _one_of("kafka.security_protocol", k.security_protocol, SECURITY_PROTOCOLS)
        _one_of("kafka.sasl_mechanism", k.sasl_mechanism, SASL_MECHANISMS)
        _one_of("service.delivery", v.delivery, DELIVERY_MODES)
        _one_of("service.alert_format", v.alert_format, ALERT_FORMATS)
        _one_of("service.log_level", v.log_level, ("DEBUG", "INFO", "WARNING", "ERROR"))
        if not k.servers:
            raise SettingsError("kafka.bootstrap_servers: must name at least one host:port")
        for server in k.servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise SettingsError(f"kafka.bootstrap_servers: {server!r} is not host:port")
        if k.security_protocol.startswith("SASL") and not k.sasl_username:
            raise SettingsError("kafka.sasl_username: required with SASL security protocols")
        if 0 < k.max_poll_interval_ms < k.session_timeout_ms:
            raise SettingsError(
                "kafka.max_poll_interval_ms: must be at least kafka.session_timeout_ms"
            )
        if k.heartbeat_interval_ms * 3 > k.session_timeout_ms:
            raise SettingsError(
                "kafka.heartbeat_interval_ms: must be at most a third of kafka.session_timeout_ms"
            )
        for name in ("session_timeout_ms", "heartbeat_interval_ms", "max_poll_records",
                     "max_poll_interval_ms", "fetch_max_wait_ms", "request_timeout_ms"):
            if getattr(k, name) <= 0:
                raise SettingsError(f"kafka.{name}: must be > 0")
        names = [getattr(t, f.name) for f in dataclasses.fields(t) if f.type == "str"]
        for f in dataclasses.fields(t):
            if f.type == "str" and not _TOPIC_NAME.fullmatch(getattr(t, f.name)):
                raise SettingsError(
                    f"topics.{f.name}: {getattr(t, f.name)!r} is not a valid Kafka topic name"
                )
        if len(set(names)) != len(names):
            raise SettingsError("topics: every topic must have its own name")
        if t.partitions <= 0 or t.replication_factor <= 0:
            raise SettingsError("topics.partitions/replication_factor: must be > 0")
        if v.commit_interval_ms <= 0:
            raise SettingsError("service.commit_interval_ms: must be > 0")
        if v.idle_expiry_after_s <= 0:
            raise SettingsError("service.idle_expiry_after_s: must be > 0")
        if v.false_positive_suppress_seconds < 0:
            raise SettingsError("service.false_positive_suppress_seconds: must be >= 0")
        if not 0 <= v.metrics_port < 65536:
            raise SettingsError("service.metrics_port: must be a TCP port (0 turns metrics off)")


_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(allowed)}")


def read_secret(value: str, path: str, name: str) -> str:
    """A secret given inline or as a file (e.g. a mounted Kubernetes secret)."""
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_file: cannot read {path}: {exc.strerror}") from None
    return value


_SECTIONS: dict[str, type] = {
    "scoring": ScoringSettings,
    "decisions": DecisionSettings,
    "input": InputSettings,
    "kafka": KafkaSettings,
    "topics": TopicSettings,
    "service": ServiceSettings,
}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise TypeError
        if kind == "str":
            return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected {kind}") from None
    raise SettingsError(f"{name}: unsupported setting type {kind}")


def _section(name: str, cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(f"{name}.{key}: unknown setting")
        kwargs[key] = _coerce(f"{name}.{key}", known[key].type, value)
    return cls(**kwargs)


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from an optional TOML file, then ``INSIDER_*`` variables."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
    for key, value in (env or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX):].lower().split("__")
        if len(parts) == 1:
            raw[parts[0]] = value
        elif len(parts) == 2:
            raw.setdefault(parts[0], {})[parts[1]] = value
        else:
            raise SettingsError(f"{key}: expected INSIDER_<SECTION>__<NAME>")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise SettingsError(f"{key}: expected a table of settings")
            kwargs[key] = _section(key, _SECTIONS[key], value)
        elif key == "model_version":
            kwargs[key] = str(value)
        else:
            raise SettingsError(f"{key}: unknown setting")
    return Settings(**kwargs)
