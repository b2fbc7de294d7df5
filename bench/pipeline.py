"""The pipeline under sustained load: usage's and invoicing's rates, and their lags, per second.

The topic holds a backlog before the services start. From usage's first progress until the
steady window (`sustain_s` seconds, after a warm-up) ends, a feeder keeps about `backlog_s`
seconds of work in the topic (see `Feeder`), so usage never starves.
Every second the committed offsets of usage's and invoicing's groups are read; a rate is the
growth of a committed offset over 10 seconds, and a figure is the median of those rates over
the window. Spans in which usage's lag reached 0 (it was starved) are left out of its rate.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from bench.load import UsageLoad
from bench.offsets import OffsetWatch, Sample
from bench.settings import Sizes

RATE_SPAN = 10
"""Samples (about seconds) one rate is measured over: offsets are committed per batch (up to
thousands of records), so shorter spans would count whole batches in or out."""


@dataclass
class PipelineResult:
    samples: list[Sample] = field(default_factory=list)
    window: tuple[float, float] | None = None
    consumed_events_per_s: float | None = None
    published_events_per_s: float | None = None
    pipeline_events_per_s: float | None = None
    rated_events_per_s: float | None = None
    rating_lag_slope_per_s: float | None = None
    rating_lag_growing: bool | None = None
    feeder_busy_s: float = 0.0
    starved_spans: int = 0
    drained_in_s: float | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        """Everything but the samples, and the steady window's length."""
        record = {k: v for k, v in asdict(self).items() if k != "samples"}
        record["window_s"] = round(self.window[1] - self.window[0], 1) if self.window else None
        return record


def rates(samples: list[Sample], done: Callable[[Sample], int]) -> list[tuple[int, float]]:
    """(index of its first sample, events/s) over each span of `RATE_SPAN` samples."""
    found = []
    for index, (first, last) in enumerate(zip(samples, samples[RATE_SPAN:], strict=False)):
        if last.t > first.t:
            found.append((index, (done(last) - done(first)) / (last.t - first.t)))
    return found


def published_count(samples: list[Sample]) -> Callable[[Sample], int]:
    """Usage's own publications where its outbox could be read throughout, else the topic's
    end (which also counts whatever other producers publish there)."""
    if all(s.usage_published is not None for s in samples):
        return lambda s: s.usage_published or 0
    return lambda s: s.recorded_end


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


class Feeder:
    """Tops the backlog up in chunks, one at a time, in the background.

    It aims at `backlog_s` seconds of work at the highest rate seen so far, and adds that much
    again whenever less than half of it is left.
    """

    def __init__(self, load: UsageLoad, sizes: Sizes) -> None:
        self.load = load
        self.sizes = sizes
        self.task: asyncio.Task[None] | None = None
        self.busy_s = 0.0
        self.peak_rate = 0.0

    def top_up(self, sample: Sample, rate: float) -> None:
        if self.task is not None and not self.task.done():
            return
        if self.task is not None:
            self.task.result()  # surface a failed chunk now
        self.peak_rate = max(self.peak_rate, rate)
        wanted = max(self.sizes.min_chunk, int(self.peak_rate * self.sizes.backlog_s))
        room = self.sizes.max_events - self.load.published
        if sample.usage_lag < wanted / 2 and room > 0:
            self.task = asyncio.create_task(self._publish(min(room, wanted)))

    async def _publish(self, count: int) -> None:
        started = time.monotonic()
        await self.load.publish(count)
        self.busy_s += time.monotonic() - started

    async def stop(self) -> None:
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=120)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def measure(
    watch: OffsetWatch,
    load: UsageLoad,
    sizes: Sizes,
    startup: asyncio.Task[None],
    exited: Callable[[], list[str]],
    at_window_start: Callable[[], None],
) -> PipelineResult:
    """Sample once a second from the services' start-up (`startup`, running) through the
    warm-up, the steady window and the drain that follows."""
    feeder = Feeder(load, sizes)
    try:
        return await _measure(watch, feeder, sizes, startup, exited, at_window_start)
    finally:
        feeder.cancel()  # a no-op once it finished; stops it when the run is cut short


async def _measure(
    watch: OffsetWatch,
    feeder: Feeder,
    sizes: Sizes,
    startup: asyncio.Task[None],
    exited: Callable[[], list[str]],
    at_window_start: Callable[[], None],
) -> PipelineResult:
    result = PipelineResult()
    first = await watch.sample()
    result.samples.append(first)
    progress_at: float | None = None
    window_start: float | None = None
    drain_start: float | None = None
    give_up: float | None = None
    while True:
        await asyncio.sleep(1.0 - (time.monotonic() - watch.started) % 1.0)
        sample = await asyncio.wait_for(watch.sample(), timeout=30)
        result.samples.append(sample)
        if startup.done():
            startup.result()  # a service that never became healthy ends the run here
            give_up = give_up or sample.t + sizes.phase_timeout_s
            if gone := exited():
                result.reason = f"services exited during the pipeline run: {', '.join(gone)}"
                break
        if progress_at is None:
            if sample.usage_done > first.usage_done:
                progress_at = sample.t
            elif give_up is not None and sample.t > give_up:
                result.reason = f"usage committed nothing in {sizes.phase_timeout_s:.0f} s"
                break
            continue
        if window_start is None and sample.t >= progress_at + sizes.warmup_s and give_up:
            window_start = sample.t
            at_window_start()
        if drain_start is None:
            if window_start is None or sample.t < window_start + sizes.sustain_s:
                recent = rates(result.samples[-RATE_SPAN - 1 :], lambda s: s.usage_done)
                feeder.top_up(sample, recent[-1][1] if recent else 0.0)
                continue
            drain_start = sample.t
            await feeder.stop()
        if sample.usage_lag <= 0 and sample.rating_lag <= 0:
            result.drained_in_s = round(sample.t - drain_start, 1)
            break
        if sample.t > drain_start + sizes.drain_timeout_s:
            result.notes.append(
                f"not drained {sizes.drain_timeout_s:.0f} s after the window: usage lag "
                f"{sample.usage_lag} (by partition {sample.usage_lags}), invoicing lag "
                f"{sample.rating_lag}"
            )
            break
    await feeder.stop()
    result.feeder_busy_s = round(feeder.busy_s, 1)
    if window_start is not None and drain_start is not None and result.reason is None:
        summarise(result, window_start, drain_start)
    elif result.reason is None:
        result.reason = "the run ended before a steady window was complete"
    return result


def summarise(result: PipelineResult, start: float, end: float) -> None:
    """The medians over the steady window, and whether invoicing's lag was growing."""
    result.window = (start, end)
    inside = [s for s in result.samples if start <= s.t <= end]
    spans = rates(inside, lambda s: s.usage_done)
    fed = {i for i, _ in spans if all(s.usage_lag > 0 for s in inside[i : i + RATE_SPAN + 1])}
    result.starved_spans = len(spans) - len(fed)
    consumed = [rate for i, rate in spans if i in fed]
    published = [rate for i, rate in rates(inside, published_count(inside)) if i in fed]
    rated = [r for _, r in rates(inside, lambda s: s.rated_done)]
    if not consumed:
        result.reason = "usage was starved (its lag reached 0) in every span of the window"
        return
    result.consumed_events_per_s = round(statistics.median(consumed), 1)
    result.published_events_per_s = round(statistics.median(published), 1)
    # Both halves must keep up: storing, and publishing what was stored.
    result.pipeline_events_per_s = min(result.consumed_events_per_s, result.published_events_per_s)
    result.rated_events_per_s = round(statistics.median(rated), 1) if rated else None
    second_half = [(s.t, float(s.rating_lag)) for s in inside if s.t >= (start + end) / 2]
    lag_slope = slope(second_half)
    if lag_slope is not None and result.rated_events_per_s is not None:
        result.rating_lag_slope_per_s = round(lag_slope, 1)
        # Growing: invoicing falls behind by more than 2 % of what it rates, or at all while
        # it rates nothing.
        result.rating_lag_growing = lag_slope > max(0.02 * result.rated_events_per_s, 0.5)
    if result.starved_spans:
        result.notes.append(f"{result.starved_spans} spans left out: usage had no backlog")
