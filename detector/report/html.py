"""The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fetches.

Written for a compliance officer who has never seen the tool: each section
says in a sentence what it shows, numbers carry their units, and the print
stylesheet keeps colours and breaks pages between sections, so the browser's
"print to PDF" is the PDF version.  Figures carry ``data-figure`` attributes
so that tests (and tools) can read them back from the rendered page.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from detector.report import svg
from detector.report.audit_check import AuditSummary
from detector.report.figures import Figures
from detector.report.incidents import IncidentRow

_CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #ccc; --ok: #1b6e20; --bad: #b00020; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 980px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 6px;
  border-bottom: 2px solid var(--ink); padding-bottom: 2px; }
.lead, .note, figcaption { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--rule);
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.numbers { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 10px 0; }
.numbers div { border: 1px solid var(--rule); border-radius: 4px; padding: 8px; }
.numbers b { display: block; font-size: 22px; }
.sev-critical { color: #7f0000; font-weight: 600; } .sev-high { color: #b34700; }
.ok { color: var(--ok); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
figure { margin: 14px 0; break-inside: avoid; } figcaption { font-size: 13px; }
svg.chart { display: block; background: #fff; }
svg .grid { stroke: #e3e3e3; } svg .tick, svg .legend { font-size: 11px; fill: #333; }
code, .hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px;
              word-break: break-all; }
table.incidents td { font-size: 12px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; } section { break-inside: auto; }
  section.page { break-before: page; }
  tr, figure, .numbers div { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _num(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "not known"
    text = f"{value:,.0f}" if float(value) == int(value) else f"{value:,.1f}"
    return f"{text}{unit}"


def _counts(counts: Mapping[str, int] | None, most: int = 4) -> str:
    """The largest ``most`` counts by name, the rest summed (so the cell still adds up)."""
    if counts is None:
        return "–"
    if not counts:
        return "not stated"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{escape(k)} {v:,}" for k, v in ranked[:most])
    rest = sum(v for _, v in ranked[most:])
    return text + (f", {len(ranked) - most} others {rest:,}" if rest else "")


def _numbers(f: Figures) -> str:
    rel = f.releases_by_reason
    cells = [
        ("events-scored", "events scored", _num(f.events_scored)),
        ("alerts", "alerts", _num(f.alerts)),
        *((f"alerts-{s}", f"{s} alerts", _num(n)) for s, n in f.alerts_by_severity.items()),
        ("incidents", "incidents", _num(f.incidents)),
        ("employees-alerted", "employees alerted", _num(f.employees_alerted)),
        ("freezes", "freezes of data-out rights", _num(f.freezes)),
        ("offboarding-locks", "offboarding locks of data access", _num(f.offboarding_locks)),
        ("locks-lifted", "offboarding locks lifted", _num(f.locks_lifted)),
        ("releases-ttl", "releases when the freeze expired", _num(rel.get("ttl_expired", 0))),
        ("releases-analyst", "releases by an analyst", _num(rel.get("analyst", 0))),
        ("releases-false-positive", "releases on false-positive feedback",
         _num(rel.get("false_positive", 0))),
        ("false-positive-feedback", "false-positive verdicts (audit trail)",
         _num(f.false_positive_feedback)),
        ("median-minutes-to-release", "median minutes from alert to release",
         _num(f.median_minutes_to_release)),
    ]
    out = "".join(f'<div><b data-figure="{key}">{escape(value)}</b>{escape(label)}</div>'
                  for key, label, value in cells)
    refused = ("" if f.events_refused is None else
               f" {f.events_refused:,} input records were refused as invalid and not scored.")
    return (f'<div class="numbers">{out}</div><p class="note">Alerts include escalations (a '
            f"new alert when an open incident becomes more severe).{refused}</p>")


def _figure(chart: str | None, caption: str, missing: str) -> str:
    if chart is None:
        return f'<figure><p class="note">{escape(missing)}</p><figcaption>{escape(caption)}' \
               "</figcaption></figure>"
    return f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>"


def _plots(f: Figures) -> str:
    sev = svg.SEVERITY_COLOURS
    days = [d[5:] for d in f.days]  # MM-DD; the period above gives the year
    parts = [
        _figure(svg.stacked_bars("Alerts per day by severity", days, f.alerts_per_day,
                                 "alerts", sev),
                "Alerts per day (UTC), stacked by severity.", ""),
        _figure(svg.stacked_bars("Freezes per day by severity", days, f.freezes_per_day,
                                 "freezes", sev),
                "Freezes of data-out rights per day (UTC), by the incident's severity.", ""),
        _figure(svg.hbars("Alerts by reason code", {k: float(v) for k, v in f.reasons.items()},
                         "alerts") if f.reasons else None,
                "Alerts in which each reason added points (an alert usually has several).",
                "No alerts in the period."),
        _figure(svg.hbars("Rows moved out by peer group", f.rows_by_group, "rows")
                if f.rows_by_group else None,
                "Customer records moved out of the CRM (export, download, print, bulk API) by "
                "the employee's peer group.", "Not shown: needs the events (--events)."),
        _figure(svg.hbars("Rows moved out by customer territory", f.rows_by_territory, "rows")
                if f.rows_by_territory else None,
                "The same records by the customers' territory.",
                "Not shown: needs the events (--events)."),
        _figure(svg.histogram("Time from alert to release", [m / 60 for m in
                                                               f.minutes_to_release],
                              [0, 1, 4, 8, 12, 24, 48], "hours", "releases")
                if f.minutes_to_release else None,
                "Hours from an incident's first alert to the release of its freeze.",
                "No freeze was released in the period."),
    ]
    if f.notice_rows_per_day is not None:
        parts.append(_figure(
            svg.stacked_bars("Data out of employees under notice", days,
                             f.notice_rows_per_day, "rows") if f.notice_rows_per_day else None,
            "Rows moved out per day by employees whose directory status was 'notice' "
            "(resigned or given notice), stacked by employee.",
            "No employee under notice moved data out in the period."))
    else:
        parts.append(_figure(
            svg.stacked_bars("Alerts on employees under notice", days,
                             f.notice_alerts_per_day, "alerts")
            if f.notice_alerts_per_day else None,
            "Alerts per day on employees under notice, by employee.",
            "No alert on an employee under notice in the period."))
    return "".join(parts)


def _incidents(rows: list[IncidentRow]) -> str:
    if not rows:
        return '<p class="note" data-figure="incident-rows">No incidents in the period.</p>'
    head = ("<tr><th>employee</th><th>peer group</th><th>status</th><th>first / last "
            "(event time)</th><th>severity</th><th>reasons</th><th class=num>rows out</th>"
            "<th>by tier</th><th>by territory</th><th>freeze</th></tr>")
    body = []
    for r in rows:
        body.append(
            f'<tr data-incident="{escape(r.incident_id)}"><td>{escape(r.employee_id)}</td>'
            f"<td>{escape(r.peer_group)}</td><td>{escape(r.status)}</td>"
            f"<td>{escape(r.first[:19].replace('T', ' '))}<br>"
            f"{escape(r.last[:19].replace('T', ' '))}</td>"
            f'<td class="sev-{escape(r.severity)}">{escape(r.severity)}</td>'
            f"<td>{escape(', '.join(r.reasons))}</td><td class=num>{_num(r.rows_out)}</td>"
            f"<td>{_counts(r.rows_by_tier)}</td><td>{_counts(r.rows_by_territory)}</td>"
            f"<td>{escape(r.freeze)}</td></tr>")
    return (f'<table class="incidents" data-figure="incident-rows" data-count="{len(rows)}">'
            f"{head}{''.join(body)}</table>")


def _audit(audit: AuditSummary | None) -> str:
    if audit is None:
        return ('<p class="note" data-figure="audit-verdict">No audit trail was given '
                "(--audit-dir): the actions above are not checked against one.</p>")
    verdict = ("every partition's chain is intact" if audit.intact
               else "AT LEAST ONE CHAIN WAS ALTERED")
    rows = []
    for p in audit.partitions:
        head = f"seq {p.head[0]} <span class=hash>{p.head[1]}</span>" if p.head else "empty"
        pub = "<br>".join(f"seq {h.seq} <span class=hash>{h.hash}</span>"
                          f"{' at ' + escape(h.at) if h.at else ''}"
                          for h in p.published[-3:]) or "none"
        more = f" (last 3 of {len(p.published)})" if len(p.published) > 3 else ""
        cls = "ok" if p.intact else "bad"
        rows.append(f'<tr><td>{"–" if p.partition is None else p.partition}</td>'
                    f"<td><code>{escape(p.path.rsplit('/', 1)[-1])}</code></td>"
                    f"<td class=num>{p.entries:,}</td><td>{head}</td><td>{pub}{more}</td>"
                    f'<td class="{cls}" data-partition-verdict>{escape(p.verdict)}</td></tr>')
    cls = "ok" if audit.intact else "bad"
    return (f'<p>Verdict: <span class="{cls}" data-figure="audit-verdict">{verdict}</span>. '
            "Each trail is hash-chained (every entry commits to the previous one); its head "
            "was published to a separate topic as it was written, so a change, deletion or "
            "cut-off end shows. Re-check with <code>insider-detector audit verify TRAIL "
            "--anchors HEADS</code>.</p><table><tr><th>partition</th><th>trail</th>"
            "<th class=num>entries</th><th>head in the file</th><th>published heads</th>"
            f"<th>verdict</th></tr>{''.join(rows)}</table>")


def render(figures: Figures, incidents: list[IncidentRow], audit: AuditSummary | None,
           sources: list[str], generated_at: str) -> str:
    """The whole page."""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in figures.notes)
    src = ", ".join(f"<code>{escape(s)}</code>" for s in sources)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Insider-risk report {escape(figures.period_text)}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<header><h1>Insider-risk compliance report</h1>"
        f'<p class="lead">Period: <b data-figure="period">{escape(figures.period_text)}</b>. '
        f"Generated {escape(generated_at)} from {src}.</p>"
        "<p>This report summarises what the insider-threat detector decided about CRM "
        "activity in the period: the alerts it raised, the employees whose rights to take "
        "data out it froze, when those freezes ended, and whether its audit trail is intact. "
        "It names employees, counts, territories and tiers, never a customer.</p></header>"
        f"<section><h2>The period in numbers</h2>{_numbers(figures)}{notes}</section>"
        f"<section><h2>Plots</h2>{_plots(figures)}</section>"
        '<section class="page"><h2>Incidents</h2><p>One row per incident (one employee, '
        "one episode; more evidence escalates it rather than opening another). Rows out "
        "count the customer records the incident's data-out events moved.</p>"
        f"{_incidents(incidents)}</section>"
        f'<section class="page"><h2>Audit trail</h2>{_audit(audit)}</section>'
        "</body></html>")
