"""Prometheus metrics of one app: request-side instruments plus the engine's state read at scrape time.

Each app has its own :class:`CollectorRegistry` (never the global one), so tests and benchmarks
can build several apps in one process. Label values come from bounded sets: endpoints and error
codes are the app's own, and per-agent series are kept for the :data:`MAX_AGENT_SERIES` agents
with the most executions; the others are summed under ``agent="_other"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tengri.engine import SystemOrchestrator

__all__ = ["MAX_AGENT_SERIES", "ApiMetrics"]

MAX_AGENT_SERIES = 20
OTHER_AGENTS = "_other"

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class _EngineCollector(Collector):
    """Reads ticks, executions, profit, temperatures and the burst budget when scraped."""

    def __init__(self, orchestrator: SystemOrchestrator) -> None:
        self.orchestrator = orchestrator

    def collect(self) -> Iterator[Metric]:
        orch = self.orchestrator
        stats = orch.get_statistics()
        ticks = CounterMetricFamily("tengri_ticks_processed", "Ticks processed by the orchestrator.")
        ticks.add_metric([], float(stats["ticks_processed"]))
        yield ticks

        executions = GaugeMetricFamily(
            "tengri_executions", "Strategy executions by agent and outcome.", labels=["agent", "outcome"]
        )
        profit = GaugeMetricFamily(
            "tengri_realised_profit", "Realised profit of closed executions, by agent.", labels=["agent"]
        )
        rows = []
        for agent_id, agent in dict(orch.agents).items():
            agent_stats = agent.statistics()
            completed, successes = int(agent_stats["completed"]), int(agent_stats["successes"])
            rows.append(
                (
                    agent_id,
                    [successes, completed - successes, int(agent_stats["open"])],
                    float(agent_stats["total_profit"]),
                )
            )
        rows.sort(key=lambda row: (-(row[1][0] + row[1][1] + row[1][2]), row[0]))
        shown = sorted(rows[:MAX_AGENT_SERIES])
        if len(rows) > MAX_AGENT_SERIES:
            rest = rows[MAX_AGENT_SERIES:]
            counts = [sum(row[1][i] for row in rest) for i in range(3)]
            shown.append((OTHER_AGENTS, counts, sum(row[2] for row in rest)))
        for agent_id, (successes, failures, still_open), realised in shown:
            executions.add_metric([agent_id, "success"], successes)
            executions.add_metric([agent_id, "failure"], failures)
            executions.add_metric([agent_id, "open"], still_open)
            profit.add_metric([agent_id], realised)
        yield executions
        yield profit

        thermal = orch.thermal_manager
        temperatures = GaugeMetricFamily(
            "tengri_temperature_celsius", "Latest temperature by device.", labels=["device", "source"]
        )
        for device, reading in sorted(thermal.temperatures.items()):
            temperatures.add_metric([device, reading.source], reading.celsius)
        yield temperatures
        zone = GaugeMetricFamily("tengri_thermal_zone", "1 for the current thermal zone.", labels=["zone"])
        zone.add_metric([thermal.zone], 1.0)
        yield zone

        budget = stats["burst_utilisation"]
        used = GaugeMetricFamily("tengri_burst_seconds_used", "Burst seconds used today (UTC).")
        used.add_metric([], float(budget["used_s"]))
        yield used
        total = GaugeMetricFamily("tengri_burst_budget_seconds", "Daily burst budget in seconds.")
        total.add_metric([], float(budget["budget_s"]))
        yield total


class _LiveCollector(Collector):
    """A live run's feed and orders (``tengri live --serve``), read when scraped."""

    def __init__(self, live: Callable[[], Mapping[str, Any]]) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        state = self.live()
        gauges = (
            (
                "tengri_live_feed_lag_seconds",
                "Seconds since the feed's last bar closed.",
                state["feed_lag_seconds"],
            ),
            (
                "tengri_live_last_bar_timestamp_seconds",
                "Opening time of the last bar (Unix seconds).",
                state["last_bar_time"],
            ),
            (
                "tengri_live_feed_stale",
                "1 while the feed is stale (entries held).",
                float(state["feed_stale"]),
            ),
            (
                "tengri_live_orders_in_flight",
                "Orders sent and not yet final (a partial fill going on).",
                state["orders_in_flight"],
            ),
            (
                "tengri_live_orders_unsent",
                "Orders the broker could not be reached for, to be tried again.",
                state["orders_unsent"],
            ),
        )
        for name, text, value in gauges:
            if value is not None:
                gauge = GaugeMetricFamily(name, text)
                gauge.add_metric([], float(value))
                yield gauge
        bars = CounterMetricFamily("tengri_live_bars", "Bars the feed's watch admitted.")
        bars.add_metric([], float(state["bars"]))
        yield bars
        events = CounterMetricFamily("tengri_live_feed_events", "Feed problems by kind.", labels=["kind"])
        for kind, count in sorted(state["feed_events"].items()):
            events.add_metric([kind], float(count))
        yield events
        orders = CounterMetricFamily("tengri_live_orders", "Order reports by status.", labels=["status"])
        for status, count in sorted(state["orders"].items()):
            orders.add_metric([status], float(count))
        yield orders
        errors = CounterMetricFamily("tengri_live_broker_errors", "Broker failures and rejected orders.")
        errors.add_metric([], float(state["broker_errors"]))
        yield errors


class ApiMetrics:
    """The app's registry and the instruments the views and error handlers update."""

    def __init__(
        self, orchestrator: SystemOrchestrator, live: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.tick_latency = Histogram(
            "tengri_tick_latency_seconds",
            "Engine time per tick received over REST.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "tengri_api_errors",
            "Error answers by endpoint and error code.",
            labelnames=["endpoint", "code"],
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(orchestrator))
        if live is not None:
            self.registry.register(_LiveCollector(live))

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
