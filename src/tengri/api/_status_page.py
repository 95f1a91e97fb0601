"""The status page at ``/``: one server-rendered HTML page, no external assets, refreshing itself.

It shows system health, a live run's feed and orders (``tengri live --serve``), the thermal zone
and temperatures, the burst budget, the profit zone with
a sparkline (inline SVG), each agent's strategies with their confidences, and the latest
executions. Jinja escapes every value (``render_template_string`` autoescapes).
"""

# ruff: noqa: E501  -- the HTML template's lines are markup, kept whole for reading

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask import render_template_string

__all__ = ["render_status_page", "sparkline_points"]

REFRESH_SECONDS = 5

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{ refresh }}">
<title>Tengri status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .5em} h2{font-size:1.05em;margin:1.2em 0 .4em}
.grid{display:flex;flex-wrap:wrap;gap:1em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.7em 1em;min-width:14em}
.ok{color:#17803d;font-weight:600} .bad{color:#b42318;font-weight:600}
table{border-collapse:collapse;background:#fff} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f0f0f0} .num{text-align:right;font-variant-numeric:tabular-nums} small{color:#666}
</style></head><body>
<h1>Tengri status <small>v{{ o.health.version }} · refreshed every {{ refresh }} s · {{ now }}</small></h1>
<div class="grid">
 <div class="card"><h2>Health</h2>
  <span class="{{ 'ok' if o.health.status == 'healthy' else 'bad' }}">{{ o.health.status }}</span>
  {% for component, reason in o.health.degraded.items() %}<br><small>{{ component }}: {{ reason }}</small>{% endfor %}
  <br>open desk positions: {{ o.health.open_executions }}<br>agents: {{ o.health.agents }}</div>
 <div class="card"><h2>Thermal</h2>
  zone <b>{{ o.thermal.zone }}</b>, max {{ '%.1f' % o.thermal.max_temperature }} °C
  {% if o.thermal.estimated %}<small>(estimated)</small>{% endif %}
  {% for r in o.thermal.temperatures %}<br><small>{{ r.device }}: {{ '%.1f' % r.celsius }} °C ({{ r.source }})</small>{% endfor %}
 </div>
 <div class="card"><h2>Burst budget</h2>
  used {{ '%.0f' % o.thermal.budget.used_s }} s of {{ '%.0f' % o.thermal.budget.budget_s }} s
  <br>remaining {{ '%.0f' % o.thermal.budget.remaining_s }} s
  {% if o.thermal.budget.active_burst %}<br><b>burst running</b>: {{ o.thermal.budget.active_burst.burst_id }}{% endif %}
  {% if o.thermal.budget.cooldown_remaining_s > 0 %}<br>cooling down {{ '%.0f' % o.thermal.budget.cooldown_remaining_s }} s{% endif %}
 </div>
 {% if o.live %}<div class="card"><h2>Live</h2>
  feed <b>{{ o.live.feed }}</b> <span class="{{ 'bad' if o.live.feed_stale else 'ok' }}">{{ 'stale' if o.live.feed_stale else 'flowing' }}</span>
  <br>last bar {{ o.live.last_bar }}, lag {{ '%.0f' % o.live.feed_lag_seconds if o.live.feed_lag_seconds is not none else '–' }} s, {{ o.live.bars }} bars
  {% for kind, count in o.live.feed_events.items() if count %}<br><small>{{ kind.replace('_', ' ') }}: {{ count }}</small>{% endfor %}
  <br>broker <b>{{ o.live.broker }}</b>: {{ o.live.orders_in_flight }} order(s) in flight, {{ o.live.orders_unsent }} unsent, {{ o.live.broker_errors }} error(s)
  {% if o.live.last_broker_error %}<br><small>{{ o.live.last_broker_error }}</small>{% endif %}
 </div>{% endif %}
 <div class="card"><h2>Profit</h2>
  zone <b>{{ o.profit.zone_state }}</b>, strength {{ '%.3f' % o.profit.vector_strength }}, {{ o.profit.n_points }} points
  <br><svg width="{{ width }}" height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}" role="img"
   aria-label="profit sparkline"><rect width="100%" height="100%" fill="#f6f8fa"/>
  {% if points %}<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{{ points }}"/>{% endif %}</svg>
 </div>
</div>
<h2>Agents and strategies</h2>
<table><tr><th>agent</th><th>strategy</th><th class="num">executions</th><th class="num">success rate</th>
<th class="num">total profit</th><th class="num">confidence</th></tr>
{% for a in o.agents %}{% for s in a.strategies %}
<tr><td>{{ a.agent_id }}</td><td>{{ s.strategy_id }}</td><td class="num">{{ s.executions }}</td>
<td class="num">{{ '%.2f' % s.success_rate if s.success_rate is not none else '–' }}</td>
<td class="num">{{ '%.2f' % s.total_profit }}</td><td class="num">{{ '%.3f' % s.confidence }}</td></tr>
{% else %}<tr><td>{{ a.agent_id }}</td><td colspan="5"><small>no completed executions ({{ a.open }} open)</small></td></tr>
{% endfor %}{% endfor %}
{% if o.agents_hidden %}<tr><td colspan="6"><small>and {{ o.agents_hidden }} more agents (see /metrics and /agent/{id}/confidence)</small></td></tr>{% endif %}</table>
<h2>Latest executions</h2>
<table><tr><th>execution</th><th>agent</th><th>strategy</th><th>status</th><th class="num">entry</th>
<th class="num">exit</th><th class="num">profit</th><th>opened</th></tr>
{% for e in o.executions %}<tr><td>{{ e.execution_id }}</td><td>{{ e.agent_id }}</td><td>{{ e.strategy_id }}</td>
<td>{{ e.status }}</td><td class="num">{{ '%.4f' % e.entry_price }}</td>
<td class="num">{{ '%.4f' % e.exit_price if e.exit_price is not none else '–' }}</td>
<td class="num">{{ '%.2f' % e.profit if e.profit is not none else '–' }}</td><td>{{ e.opened }}</td></tr>
{% else %}<tr><td colspan="8"><small>no executions yet</small></td></tr>{% endfor %}</table>
</body></html>
"""

_WIDTH, _HEIGHT = 240, 48


def sparkline_points(values: Sequence[float], width: int = _WIDTH, height: int = _HEIGHT) -> str:
    """Return an SVG ``points`` attribute drawing ``values`` across ``width`` × ``height``."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    step = (width - 2) / (len(values) - 1)
    return " ".join(
        f"{1 + i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in enumerate(values)
    )


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_status_page(overview: dict[str, Any]) -> str:
    """Render the page from :meth:`EngineGateway.overview`."""
    for execution in overview["executions"]:
        execution["opened"] = _when(execution["opened_at"])
    live = overview.get("live")
    if live:
        live["last_bar"] = _when(live["last_bar_time"]) if live.get("last_bar_time") is not None else "–"
    return render_template_string(
        _TEMPLATE,
        o=overview,
        refresh=REFRESH_SECONDS,
        now=_when(dt.datetime.now(dt.UTC).timestamp()),
        points=sparkline_points([v for _t, v in overview["profit_window"]]),
        width=_WIDTH,
        height=_HEIGHT,
    )
