"""The campaign report as one self-contained HTML page: summary counts, the chart embedded, a per-target table."""
from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from html import escape

from flowengine.campaign.report import COLOURS, TARGET_COLOURS, TARGET_OUTCOMES, TargetRow, label
from flowengine.campaign.results import DIAL_OUTCOMES, dial_outcome
from flowengine.store.campaigncalls import Campaigncall

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} .sub{color:#666;margin-top:0}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0} .card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}
.card b{font-size:1.6em;display:block} img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;width:100%;margin-top:1em} th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee}
th{background:#f6f6f6;position:sticky;top:0} .chip{display:inline-block;border-radius:3px;padding:0 .4em;margin-right:.2em;
color:#fff;font-size:.85em} .num{text-align:right}
"""


def _chip(text: str, colour: str) -> str:
    return f'<span class="chip" style="background:{colour}">{escape(text)}</span>'


def render_html(title: str, status: str, calls: Sequence[Campaigncall], rows: Sequence[TargetRow],
                png: bytes) -> str:
    by_target = Counter(r.outcome for r in rows)
    by_dial = Counter(dial_outcome(c) for c in calls)
    cards = [f'<div class="card">targets<b>{len(rows)}</b></div>']
    cards += [f'<div class="card" style="border-color:{TARGET_COLOURS[k]}">{k}<b>{by_target[k]}</b></div>'
              for k in TARGET_OUTCOMES if by_target[k]]
    cards += [f'<div class="card">dials<b>{len(calls)}</b></div>']
    cards += [f'<div class="card" style="border-color:{COLOURS[k]}">{label(k)}<b>{by_dial[k]}</b></div>'
              for k in DIAL_OUTCOMES if by_dial[k]]
    body = "\n".join(
        f"<tr><td>{escape(r.name)}</td><td>{escape(r.destination)}</td>"
        f"<td>{_chip(r.outcome, TARGET_COLOURS[r.outcome])}</td><td class=num>{r.tries}</td>"
        f"<td>{''.join(_chip(f'{i}. {label(d)}', COLOURS[d]) for i, d in enumerate(r.dials, 1))}</td>"
        f"<td>{escape(r.last_reason)}</td></tr>" for r in rows)
    image = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{escape(title)}</h1><p class="sub">status {escape(status)}; a target is a person to reach, a dial one
attempt at it, a call a dial that was answered</p>
<div class="cards">{''.join(cards)}</div>
<img alt="finished dials over time by outcome; targets by outcome and dials each" src="data:image/png;base64,{image}">
<h2>Targets</h2>
<table><thead><tr><th>target</th><th>destination</th><th>outcome</th><th class=num>dials</th><th>each dial</th>
<th>last hangup reason</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
