# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm report as one self-contained HTML page: no scripts, no external assets, every value escaped.

Input is ccs_store_info's result, optionally with ccs_verify results per node. Sections: summary,
expiry timeline (inline SVG), node x host-name matrix, findings by severity with fixes, replica
drift, files, share ACL. It prints on A4/Letter and reads the same as an AWX artifact.
"""

from __future__ import annotations

import html
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import SEVERITIES

Report = t.Mapping[str, t.Any]
TIMELINE_ROWS = 40
_COLOURS = {"critical": "#8b1a1a", "error": "#c0392b", "warning": "#b9770e", "info": "#2e6da4", "ok": "#1e8449"}


def esc(value: t.Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(report: Report, *, title: str = "CCS certificate report", verify: t.Mapping[str, t.Any] | None = None) -> str:
    body = "".join(
        [
            _header(report, title),
            _summary(report),
            _timeline(report),
            _matrix(report, verify),
            _findings(report),
            _drift(report),
            _files(report),
            _acl(report),
        ]
    )
    head = f'<meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style>'
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head><body>{body}</body></html>\n'


def _badge(severity: str, text: str | None = None) -> str:
    return f'<span class="badge sev-{esc(severity)}">{esc(text or severity)}</span>'


def _header(report: Report, title: str) -> str:
    summary = report.get("summary") or {}
    worst = next((s for s in SEVERITIES if (summary.get("findings") or {}).get(s)), None)
    status = _badge("ok", "healthy") if summary.get("healthy") else _badge(worst or "info", f"needs attention: {worst or 'info'}")
    scope = f"{esc(summary.get('files', 0))} files on {esc(summary.get('replicas', 0))} replica(s), {esc(summary.get('nodes', 0))} web node(s)"
    return f'<header><h1>{esc(title)}</h1><p class="meta">Read at {esc(report.get("generated_at"))} &middot; {scope} &middot; {status}</p></header>'


def _summary(report: Report) -> str:
    summary = report.get("summary") or {}
    counts = summary.get("findings") or {}
    cards = "".join(f'<div class="card sev-border-{s}"><div class="num">{esc(counts.get(s, 0))}</div><div class="label">{s}</div></div>' for s in SEVERITIES)
    expiry = summary.get("next_expiry")
    if expiry:
        cards += (
            f'<div class="card wide"><div class="num">{esc(expiry.get("days_left"))} days</div><div class="label">next expiry: '
            f'{esc(expiry.get("file"))}, {esc(str(expiry.get("not_after") or "")[:10])}</div></div>'
        )
    return f'<section><h2>Summary</h2><div class="cards">{cards}</div></section>'


def _timeline(report: Report) -> str:
    files = sorted((f for f in report.get("files") or [] if f.get("days_left") is not None), key=lambda f: f["days_left"])
    if not files:
        return ""
    shown = files[:TIMELINE_ROWS]
    span = max(90, min(400, max(f["days_left"] for f in shown) + 10))
    left, width, row = 230, 640, 18
    height = 30 + row * len(shown)
    scale = width / span
    size = f'width="{left + width + 20}" height="{height + 10}" viewBox="0 0 {left + width + 20} {height + 10}"'
    parts = [f'<svg role="img" aria-label="Expiry timeline" {size}>']
    for day in range(0, span + 1, 30 if span <= 200 else 60):
        x = left + day * scale
        parts.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height}" class="grid"/><text x="{x:.1f}" y="12" class="tick">+{day}d</text>')
    for days, css in ((summary_of(report).get("expiry_error_days"), "error"), (summary_of(report).get("expiry_warning_days"), "warning")):
        if isinstance(days, int) and 0 < days <= span:
            x = left + days * scale
            parts.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height}" class="limit limit-{css}"/>')
    for index, item in enumerate(shown):
        y = 24 + index * row
        days = item["days_left"]
        severity = _expiry_severity(report, item)
        bar_width = max(2.0, min(days, span) * scale) if days >= 0 else 2.0
        parts.append(
            f'<text x="{left - 8}" y="{y + 11}" class="lane">{esc(_short(item["name"]))}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{bar_width:.1f}" height="11" rx="2" fill="{_COLOURS[severity]}"/>'
            f'<text x="{left + bar_width + 6:.1f}" y="{y + 11}" class="days">{esc(days)} d</text>'
        )
    parts.append("</svg>")
    more = f" The {TIMELINE_ROWS} soonest of {len(files)} files." if len(files) > len(shown) else ""
    limits = summary_of(report)
    lines = f'{esc(limits.get("expiry_error_days"))} days (error) and {esc(limits.get("expiry_warning_days"))} days (warning)'
    legend = f'<p class="note">Days left per file; dashed lines: {lines}.{more}</p>'
    return f'<section><h2>Expiry timeline</h2><div class="svgbox">{"".join(parts)}</div>{legend}</section>'


def summary_of(report: Report) -> t.Mapping[str, t.Any]:
    return t.cast(t.Mapping[str, t.Any], report.get("summary") or {})


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _expiry_severity(report: Report, item: t.Mapping[str, t.Any]) -> str:
    for finding in report.get("findings") or []:
        if finding.get("subject") == item["name"] and finding.get("check") in ("expired", "expiring"):
            return str(finding["severity"])
    return "ok"


def _matrix(report: Report, verify: t.Mapping[str, t.Any] | None) -> str:
    rows = report.get("matrix")
    if rows is None:
        return ""
    nodes = [n["name"] for n in report.get("nodes") or []]
    head = "".join(f"<th>{esc(n)}</th>" for n in nodes)
    lines = []
    for row in rows:
        cells = "".join(_matrix_cell(row, node, verify) for node in nodes)
        file_cell = f'<td class="ok">{esc(row["file"])}</td>' if row.get("file") else '<td class="bad">no file</td>'
        lines.append(f"<tr><th scope=\"row\">{esc(row['host_name'])}</th>{file_cell}{cells}</tr>")
    served = "" if verify is None else " &middot; served: the TLS check saw the store's certificate"
    legend = f'<p class="note">bound: the node has an SNI+CCS binding for the name{served}.</p>'
    return f'<section><h2>Nodes and host names</h2>{_table("<th>host name</th><th>store file</th>" + head, "".join(lines))}{legend}</section>'


def _matrix_cell(row: t.Mapping[str, t.Any], node: str, verify: t.Mapping[str, t.Any] | None) -> str:
    bound = (row.get("nodes") or {}).get(node, {}).get("bound")
    if not bound:
        return '<td class="muted">&ndash;</td>'
    text, css = ("bound", "ok") if row.get("file") else ("bound, no file", "bad")
    served = _served(verify, node, str(row["host_name"]))
    if served is not None:
        text, css = (text + ", served", css) if served else (text + ", not served", "bad")
    return f'<td class="{css}">{esc(text)}</td>'


def _served(verify: t.Mapping[str, t.Any] | None, node: str, host: str) -> bool | None:
    if not verify or node not in verify:
        return None
    # ccs_verify's result: one entry per name checked, with its verdict and ok.
    for entry in (verify[node] or {}).get("checks") or []:
        if str(entry.get("name") or "").lower() == host.lower():
            return bool(entry.get("ok"))
    return None


def _findings(report: Report) -> str:
    findings = report.get("findings") or []
    if not findings:
        return '<section><h2>Findings</h2><p class="good">No findings: every check passed.</p></section>'
    groups = []
    for severity in SEVERITIES:
        items = [f for f in findings if f.get("severity") == severity]
        if not items:
            continue
        rows = "".join(
            f'<tr><td>{esc(f["subject"])}</td><td>{esc(f["message"])}<div class="fix">Fix: {esc(f["fix"])}</div></td>'
            f'<td><code>{esc(f["check"])}</code></td></tr>'
            for f in items
        )
        groups.append(
            f'<h3>{_badge(severity)} {len(items)} {esc(severity)}</h3>{_table("<th>subject</th><th>finding</th><th>check</th>", rows, "findings")}'
        )
    return f'<section><h2>Findings</h2>{"".join(groups)}</section>'


def _drift(report: Report) -> str:
    replicas = [r["name"] for r in report.get("replicas") or [] if r.get("status") == "ok"]
    files = report.get("files") or []
    drifting = [f for f in files if f.get("drift")]
    status = "".join(
        f"<li>{esc(r['name'])} ({esc(r['type'])} {esc(r['path'])}): {_replica_status(r)}</li>"
        for r in report.get("replicas") or []
    )
    if not drifting:
        return f'<section><h2>Replicas</h2><ul>{status}</ul><p class="good">All {len(files)} files are the same on every readable replica.</p></section>'
    head = "".join(f"<th>{esc(r)}</th>" for r in replicas)
    rows = "".join(f"<tr><th scope=\"row\">{esc(f['name'])}</th>{_drift_cells(f, replicas)}</tr>" for f in drifting)
    return (
        f'<section><h2>Replicas</h2><ul>{status}</ul><h3>Replica drift: {len(drifting)} of {len(files)} files differ</h3>'
        f"<table><thead><tr><th>file</th>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _replica_status(replica: t.Mapping[str, t.Any]) -> str:
    if replica.get("status") == "ok":
        return _badge("ok", "read")
    return f"{_badge('error', 'failed')} {esc(replica.get('error') or '')}"


def _table(head: str, rows: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _drift_cells(item: t.Mapping[str, t.Any], replicas: t.Sequence[str]) -> str:
    copies = item.get("replicas") or {}
    identities = [c.get("identity") for c in copies.values() if c.get("present")]
    majority = max(set(identities), key=identities.count) if identities else None
    cells = []
    for name in replicas:
        copy = copies.get(name) or {}
        if not copy.get("present"):
            cells.append('<td class="bad">missing</td>')
        elif copy.get("identity") != majority:
            cells.append('<td class="bad">different certificate</td>')
        else:
            cells.append('<td class="ok">same</td>')
    return "".join(cells)


def _files(report: Report) -> str:
    files = report.get("files") or []
    if not files:
        return '<section><h2>Files</h2><p class="note">The store holds no PFX files.</p></section>'
    rows = "".join(_file_row(f) for f in files)
    return (
        '<section class="files"><h2>Files</h2><table><thead><tr><th>file</th><th>certificate names</th><th>expires</th><th>days</th>'
        f"<th>key</th><th>PFX</th><th>chain</th><th>iis.ccs</th><th>thumbprint / issuer</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _file_row(item: t.Mapping[str, t.Any]) -> str:
    name = f'<th scope="row">{esc(item["name"])}</th>'
    if not item.get("opened"):
        return f'<tr>{name}<td colspan="8" class="bad">{esc(item.get("open_error"))}</td></tr>'
    key = f"{item.get('key_type')} {item.get('key_size') or ''}".strip()
    cells = [
        _td(", ".join(item.get("dns_names") or []), "" if item.get("name_matches") else "bad"),
        _td(str(item.get("not_after") or "")[:10], "date"),
        _td(item.get("days_left"), "num"),
        _td(key),
        _td(item.get("encryption")),
        _td("complete" if item.get("chain_complete") else "incomplete", "" if item.get("chain_complete") else "bad"),
        _td("yes" if item.get("published_by_iis_ccs") else "no"),
        f'<td class="small"><code>{esc(item.get("thumbprint"))}</code><br>{esc(item.get("issuer"))}</td>',
    ]
    return f"<tr>{name}{''.join(cells)}</tr>"


def _td(value: t.Any, css: str = "") -> str:
    return f'<td class="{css}">{esc(value)}</td>' if css else f"<td>{esc(value)}</td>"


def _acl(report: Report) -> str:
    audit = report.get("acl")
    if audit is None:
        return ""
    share = audit.get("share") or {}
    rows = "".join(
        f"<tr><td>{esc(e['scope'])}</td><td>{esc(e['account'])}</td><td>{esc(e['access'])}</td><td>{esc(e['type'])}</td><td>{_badge(e['verdict'])}</td></tr>"
        for e in audit.get("entries") or []
    )
    return (
        '<section><h2>Share and folder permissions</h2>'
        f'<p class="meta">Share <code>{esc(share.get("name"))}</code>, folder <code>{esc(share.get("path"))}</code></p>'
        f"<table><thead><tr><th>where</th><th>account</th><th>access</th><th>type</th><th>verdict</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


_CSS = """
:root{color-scheme:light}
body{font:14px/1.45 "Segoe UI",system-ui,-apple-system,"DejaVu Sans",sans-serif;color:#1f2933;margin:0 auto;max-width:1100px;padding:24px 28px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid #e4e7eb}
h3{font-size:15px;margin:16px 0 8px}.meta{color:#52606d;margin:0}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #d9e2ec;border-left-width:6px;border-radius:6px;padding:8px 14px;min-width:92px}
.card .num{font-size:22px;font-weight:600}.card .label{color:#52606d;text-transform:capitalize}
.card.wide{min-width:260px;border-left-color:#486581}.card.wide .label{text-transform:none}
.sev-border-critical{border-left-color:#8b1a1a}.sev-border-error{border-left-color:#c0392b}.sev-border-warning{border-left-color:#b9770e}.sev-border-info{border-left-color:#2e6da4}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.sev-critical{background:#8b1a1a}.sev-error{background:#c0392b}.sev-warning{background:#b9770e}.sev-info{background:#2e6da4}.sev-ok{background:#1e8449}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}th,td{border:1px solid #d9e2ec;padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:#f0f4f8}tbody th{font-weight:600;white-space:nowrap}td.num{text-align:right}td.date{white-space:nowrap}
td.ok{background:#e3f9e5;color:#145a32}td.bad{background:#fde8e8;color:#8b1a1a;font-weight:600}td.muted{color:#9aa5b1;text-align:center}
.fix{color:#334e68;margin-top:3px}
.small{font-size:12px;color:#52606d}.small code{word-break:break-all}.note{color:#52606d;font-size:12px}
.good{background:#e3f9e5;color:#145a32;padding:8px 12px;border-radius:6px}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
.svgbox{overflow-x:auto}svg text{font:11px "DejaVu Sans",sans-serif;fill:#334e68}svg .lane{text-anchor:end}svg .tick{text-anchor:middle;fill:#7b8794}
svg .grid{stroke:#e4e7eb;stroke-width:1}svg .limit{stroke-width:1.5;stroke-dasharray:4 3}svg .limit-error{stroke:#c0392b}svg .limit-warning{stroke:#b9770e}
@media print{body{max-width:none;padding:0;font-size:11px}section{break-inside:avoid-page}.files{break-inside:auto}tr{break-inside:avoid}
.badge,.card,td.ok,td.bad,thead th{-webkit-print-color-adjust:exact;print-color-adjust:exact}h2{break-after:avoid}}
"""
