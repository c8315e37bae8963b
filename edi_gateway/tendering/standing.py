"""Which tenders count: the last on-time action of each tenderer wins.

A tenderer may submit again (the new tender replaces the old one) or withdraw, any number of
times before the deadline. Everything stays recorded; at the opening only each tenderer's
last on-time tender is unsealed, and none when its last action was a withdrawal. A pure
function of the recorded facts, so the opening can recompute it after any crash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    COUNTED = "counted"  # unsealed at the opening
    REPLACED = "replaced"  # a later on-time tender of the same tenderer counts instead
    WITHDRAWN = "withdrawn"  # the tenderer withdrew after submitting it
    LATE = "late"  # refused at filing
    DUPLICATE = "duplicate"  # the same bytes as an earlier submission


@dataclass(frozen=True)
class Filed:
    interchange_id: str
    tenderer: str | None
    received_at: dt.datetime
    on_time: bool
    duplicate: bool = False


@dataclass(frozen=True)
class Withdrawal:
    tenderer: str
    at: dt.datetime


def standing(
    filed: list[Filed], withdrawals: list[Withdrawal], deadline: dt.datetime
) -> dict[str, Outcome]:
    """The outcome of every filed submission, by interchange id."""
    result: dict[str, Outcome] = {}
    timelines: dict[str, list[tuple[dt.datetime, int, str | None]]] = {}
    for f in filed:
        if not f.on_time:
            result[f.interchange_id] = Outcome.LATE
        elif f.duplicate:
            result[f.interchange_id] = Outcome.DUPLICATE
        else:  # an anonymous submission stands alone
            who = f.tenderer or f"anonymous:{f.interchange_id}"
            timelines.setdefault(who, []).append((f.received_at, 0, f.interchange_id))
    for w in withdrawals:
        if w.at <= deadline and w.tenderer in timelines:
            # at the same instant a withdrawal comes after the submission (order 1 > 0)
            timelines[w.tenderer].append((w.at, 1, None))
    for actions in timelines.values():
        actions.sort(key=lambda a: (a[0], a[1], a[2] or ""))
        for i, (_, _, iid) in enumerate(actions):
            if iid is None:
                continue
            later = actions[i + 1 :]
            if not later:
                result[iid] = Outcome.COUNTED
            elif any(a[2] is not None for a in later):
                result[iid] = Outcome.REPLACED
            else:
                result[iid] = Outcome.WITHDRAWN
    return result
