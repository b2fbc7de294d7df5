"""The daily usage chart's geometry: one bar per local day of the month, drawn as inline SVG.

Pure arithmetic over the day's quantities; the template only draws what this decides.
Coordinates are floats (pixels), quantities stay Decimal.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH = 620.0
HEIGHT = 160.0
AXIS = 18.0
"""Room under the bars for the day numbers."""


@dataclass(frozen=True)
class Bar:
    """One day's bar: its date, quantity and rectangle."""

    day: date
    quantity: Decimal
    x: float
    y: float
    width: float
    height: float
    labelled: bool
    """Whether the day number is written under it (every few days, to stay legible)."""


@dataclass(frozen=True)
class Chart:
    """One category's daily quantities in a month, ready to draw."""

    category: str
    unit: str
    bars: list[Bar]
    peak: Decimal
    total: Decimal
    width: float = WIDTH
    height: float = HEIGHT
    baseline: float = HEIGHT - AXIS


def daily_chart(
    category: str, unit: str, days: Sequence[date], quantities: Mapping[date, Decimal]
) -> Chart:
    """The bars of `days` (the month's local dates), scaled to the busiest day."""
    peak = max((quantities.get(day, Decimal(0)) for day in days), default=Decimal(0))
    slot = WIDTH / max(len(days), 1)
    room = HEIGHT - AXIS - 4.0
    bars = []
    for index, day in enumerate(days):
        quantity = quantities.get(day, Decimal(0))
        height = float(quantity / peak) * room if peak > 0 else 0.0
        bars.append(
            Bar(
                day=day,
                quantity=quantity,
                x=index * slot + slot * 0.15,
                y=HEIGHT - AXIS - height,
                width=slot * 0.7,
                height=height,
                labelled=day.day == 1 or day.day % 5 == 0,
            )
        )
    total = sum((quantities.get(day, Decimal(0)) for day in days), Decimal(0))
    return Chart(category=category, unit=unit, bars=bars, peak=peak, total=total)
