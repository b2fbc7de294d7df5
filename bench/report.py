"""The report: medians over runs, each figure against its bar, as JSON, markdown and a PNG plot."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.offsets import Sample
from bench.pipeline import RATE_SPAN, published_count, rates

SUSTAIN_BAR_S = 300
RSS_GROWTH_BAR = 0.10


@dataclass(frozen=True)
class Bar:
    text: str
    at_least: float | None = None
    at_most: float | None = None


BARS: dict[str, Bar] = {
    "pipeline_events_per_s": Bar(f"≥ 30,000/s sustained {SUSTAIN_BAR_S} s", at_least=30_000),
    "rated_events_per_s": Bar("≥ 15,000/s, lag not growing", at_least=15_000),
    "bare_consumer_events_per_s": Bar("reported"),
    "bare_sink_events_per_s": Bar("reported"),
    "pipeline_ratio_to_bare_sink": Bar("≥ 0.5", at_least=0.5),
    "http_ingest_events_per_s": Bar("≥ 20,000/s", at_least=20_000),
    "freshness_p50_ms": Bar("≤ 50 ms", at_most=50),
    "freshness_p99_ms": Bar("≤ 250 ms", at_most=250),
    "relay_rows_per_s": Bar("≥ 30,000/s published and removed", at_least=30_000),
    "number_report_ms": Bar("≤ 1,000 ms (10,000 numbers, 1,000,000 events)", at_most=1000),
    "notification_decision_p99_ms": Bar("≤ 100 ms, committed crossing → decision", at_most=100),
    "month_close_accounts_per_min": Bar("≥ 50,000/min (100,000 accounts)", at_least=50_000),
}


def median_or_none(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def verdict(key: str, value: float | None, runs: list[dict[str, Any]]) -> tuple[str, str]:
    """(met | not met | unproven | reported | not measured, why)."""
    bar = BARS[key]
    if value is None:
        return "not measured", ""
    if bar.at_least is None and bar.at_most is None:
        return "reported", ""
    met = (bar.at_least is None or value >= bar.at_least) and (
        bar.at_most is None or value <= bar.at_most
    )
    if not met:
        return "not met", ""
    if key == "pipeline_events_per_s":
        shortest = min(run["pipeline"]["window_s"] or 0 for run in runs)
        if shortest < SUSTAIN_BAR_S:
            return "unproven", f"steady window {shortest:.0f} s < {SUSTAIN_BAR_S} s"
    if key == "rated_events_per_s" and any(r["pipeline"]["rating_lag_growing"] for r in runs):
        return "not met", "invoicing's lag was growing"
    return "met", ""


def aggregate(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """-> (figures: each key's median, bar and verdict; memory: RSS per service)."""
    figures: dict[str, Any] = {}
    for key in BARS:
        values = [run["figures"].get(key) for run in runs]
        value = median_or_none(values)
        result, why = verdict(key, value, runs)
        reasons = sorted({run["reasons"][key] for run in runs if run["reasons"].get(key)})
        figures[key] = {
            "value": value,
            "runs": values,
            "bar": BARS[key].text,
            "result": result,
            "reason": "; ".join([why, *reasons]).strip("; ") or None,
        }
    growing = [run["pipeline"]["rating_lag_growing"] for run in runs]
    figures["rated_events_per_s"]["rating_lag_growing"] = growing
    memory: dict[str, Any] = {"rss_mb_start": {}, "rss_mb_end": {}, "verdict": {}}
    for service in runs[0]["rss_start"]:
        starts = [run["rss_start"].get(service) for run in runs]
        ends = [run["rss_end"].get(service) for run in runs]
        memory["rss_mb_start"][service] = median_or_none(starts)
        memory["rss_mb_end"][service] = median_or_none(ends)
        pairs = [(s, e) for s, e in zip(starts, ends, strict=True) if s and e]
        if not pairs:
            memory["verdict"][service] = "not measured"
        else:
            flat = all(e <= s * (1 + RSS_GROWTH_BAR) for s, e in pairs)
            memory["verdict"][service] = "met" if flat else "not met"
    return figures, memory


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    figures, memory, machine = report["figures"], report["memory"], report["machine"]
    lines = [
        f"# Tally benchmark ({'quick' if report['quick'] else 'full'} run)",
        "",
        f"{report['finished_at']} · {report['runs_completed']} of {report['runs_requested']} "
        f"run(s), medians · {machine['cores']} cores, {machine['memory_gib']} GiB "
        f"({machine['cpu_model']}) · trace sample ratio {report['trace_sample_ratio']} · "
        f"steady window {report['sizes']['sustain_s']:.0f} s",
        "",
        "| figure | value | bar | result | notes |",
        "|---|---:|---|---|---|",
    ]
    for key, figure in figures.items():
        notes = figure["reason"] or ""
        if key == "rated_events_per_s":
            notes = "; ".join(
                filter(None, [f"lag growing per run: {figure['rating_lag_growing']}", notes])
            )
        lines.append(
            f"| `{key}` | {_number(figure['value'])} | {figure['bar']} | {figure['result']} "
            f"| {notes} |"
        )
    lines += [
        "",
        f"| service | rss_mb_start | rss_mb_end | flat within {RSS_GROWTH_BAR:.0%} |",
        "|---|---:|---:|---|",
    ]
    for service, start in memory["rss_mb_start"].items():
        end = memory["rss_mb_end"][service]
        lines.append(
            f"| {service} | {_number(start)} | {_number(end)} | {memory['verdict'][service]} |"
        )
    if report["notes"]:
        lines += ["", "Notes:", "", *(f"- {note}" for note in report["notes"])]
    path.write_text("\n".join(lines) + "\n")


def write_plot(path: Path, runs: list[dict[str, Any]]) -> None:
    """Events/s and consumer lag over the pipeline run, and latencies over their phases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, lag, latency) = plt.subplots(3, 1, figsize=(10, 10))
    styles = ["-", "--", ":", "-."]
    for number, run in enumerate(runs):
        style = styles[number % len(styles)]
        _plot_pipeline(speed, lag, run, style, number + 1)
        _plot_latency(latency, run, number + 1)
    speed.set_ylabel(f"events/s ({RATE_SPAN} s spans)")
    speed.set_title("Tally pipeline: grey = steady window")
    speed.legend(fontsize=7)
    lag.set_ylabel("consumer lag (events)")
    lag.set_xlabel("seconds since the services started")
    lag.legend(fontsize=7)
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms, log)")
    latency.set_xlabel("seconds into the phase")
    latency.set_title(
        "freshness: publish → stored, per probe; decisions: committed crossing → decision"
    )
    latency.axhline(250, color="C3", linewidth=0.8, linestyle="--", label="freshness p99 bar")
    latency.axhline(100, color="C4", linewidth=0.8, linestyle="--", label="decision p99 bar")
    latency.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_pipeline(speed: Any, lag: Any, run: dict[str, Any], style: str, number: int) -> None:
    samples = [Sample(**s) for s in run["samples"]]
    if len(samples) < 2:
        return
    outbox = [s for s in samples if s.usage_published is not None]
    series = [
        ("usage stored", samples, lambda s: s.usage_done, "C0"),
        ("usage published", outbox, published_count(outbox), "C2"),
        ("invoicing rated", samples, lambda s: s.rated_done, "C1"),
    ]
    for label, chosen, done, colour in series:
        points = rates(chosen, done)
        times = [chosen[i + RATE_SPAN].t for i, _ in points]  # at the end of each span
        values = [r for _, r in points]
        speed.plot(times, values, style, color=colour, label=f"{label} (run {number})")
    t = [s.t for s in samples]
    lag.plot(t, [s.usage_lag for s in samples], style, color="C0", label=f"usage (run {number})")
    lag.plot(
        t, [s.rating_lag for s in samples], style, color="C1", label=f"invoicing (run {number})"
    )
    if window := run["pipeline"]["window"]:
        speed.axvspan(window[0], window[1], color="0.9", zorder=0)


def _plot_latency(latency: Any, run: dict[str, Any], number: int) -> None:
    phases = [("freshness", "C0", "."), ("notification_decisions", "C1", "x")]
    for phase, colour, marker in phases:
        timeline = (run["details"].get(phase) or {}).get("timeline") or []
        if timeline:
            latency.scatter(
                [t for t, _ in timeline],
                [max(ms, 0.1) for _, ms in timeline],
                s=4,
                color=colour,
                marker=marker,
                alpha=0.6 if number == 1 else 0.3,
                label=f"{phase.replace('_', ' ')} (run {number})",
            )
