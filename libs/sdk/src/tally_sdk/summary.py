"""What `tally usage send` tells its user: counts by outcome, and each refusal with its reason."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tally_sdk.acks import Ack, AckStatus

MAX_LISTED = 20
"""Refusals listed one by one; the rest are counted (a bad file must not flood the terminal)."""


@dataclass
class SendSummary:
    """Counts of one send; `duplicates` are accepted events Tally had recorded already."""

    total: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[Ack] = field(default_factory=list)
    failed: list[Ack] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


def summarize(acks: Sequence[Ack], already_recorded: Iterable[str] = ()) -> SendSummary:
    """Sort each ack into its outcome; an accepted id in `already_recorded` is a duplicate."""
    recorded = set(already_recorded)
    summary = SendSummary(total=len(acks))
    for ack in acks:
        if ack.status is AckStatus.ACCEPTED:
            summary.accepted += 1
            summary.duplicates += ack.event_id in recorded
        elif ack.status is AckStatus.FAILED:
            summary.failed.append(ack)
        else:
            summary.refused.append(ack)
    return summary


def render(summary: SendSummary) -> list[str]:
    """The summary as lines; event numbers are 1-based positions in the file."""
    new = summary.accepted - summary.duplicates
    lines = [
        f"events:     {summary.total}",
        f"accepted:   {summary.accepted} (new: {new}, duplicates: {summary.duplicates})",
        f"rejected:   {len(summary.refused)}",
    ]
    lines += [_refusal(ack) for ack in summary.refused[:MAX_LISTED]]
    if len(summary.refused) > MAX_LISTED:
        lines.append(f"  ... and {len(summary.refused) - MAX_LISTED} more")
    lines.append(f"failed:     {len(summary.failed)}")
    if summary.failed:
        lines.append(f"  {summary.failed[0].reason} (send them again: their ids make it safe)")
    return lines


def _refusal(ack: Ack) -> str:
    where = "not sent" if ack.status is AckStatus.INVALID else "refused by Tally"
    reasons = "; ".join(f"{e.field}: {e.reason}" for e in ack.errors)
    return f"  event #{ack.index + 1} ({ack.event_id or 'no id'}, {where}): {reasons}"
