"""Which texts go into the next model run: callers take turns, a run's cost is capped."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Caller = TypeVar("Caller", bound=Hashable)


@dataclass(frozen=True)
class Share(Generic[Caller]):
    """Texts of one caller in a run, by their index in the caller's list."""

    caller: Caller
    indices: list[int]


@dataclass(eq=False)
class _Waiting(Generic[Caller]):
    caller: Caller
    lengths: Sequence[int]
    # Shortest first, so consecutive texts of one caller pad to similar widths.
    order: list[int]
    served: int = 0

    @property
    def left(self) -> int:
        return len(self.order) - self.served


class FairQueue(Generic[Caller]):
    """Round-robin over callers; each run costs at most `tokens_per_run` padded tokens.

    A run pads every text to its longest one, so its time and memory grow with
    rows x width: capping that product bounds both, however long or many the texts
    of one call are. Callers take turns run by run; a caller that has not had a turn
    yet goes first, so a one-text recall waits for at most the run already going,
    not for the rest of a large remember_many.
    """

    def __init__(self, *, tokens_per_run: int, max_rows: int) -> None:
        self._tokens_per_run = tokens_per_run
        self._max_rows = max_rows
        self._new: deque[_Waiting[Caller]] = deque()
        self._turns: deque[_Waiting[Caller]] = deque()
        self._by_caller: dict[Caller, _Waiting[Caller]] = {}

    def __len__(self) -> int:
        """Texts waiting for a run."""
        return sum(waiting.left for waiting in self._by_caller.values())

    def add(self, caller: Caller, lengths: Sequence[int]) -> None:
        """Queue a caller's texts, given their lengths in tokens."""
        if not lengths:
            return
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        waiting = _Waiting(caller, lengths, order)
        self._by_caller[caller] = waiting
        self._new.append(waiting)

    def discard(self, caller: Caller) -> None:
        """Drop whatever of the caller's texts has not gone into a run."""
        waiting = self._by_caller.pop(caller, None)
        if waiting is None:
            return
        for line in (self._new, self._turns):
            if waiting in line:
                line.remove(waiting)

    def take_run(self) -> list[Share[Caller]]:
        """The texts of the next run, at least one if any is waiting."""
        shares: list[Share[Caller]] = []
        served: list[_Waiting[Caller]] = []
        rows = width = 0
        for waiting in (*self._new, *self._turns):
            taken: list[int] = []
            while waiting.left:
                index = waiting.order[waiting.served]
                wider = max(width, waiting.lengths[index])
                # A run holds at least one text, whatever its length.
                if rows and (rows >= self._max_rows or (rows + 1) * wider > self._tokens_per_run):
                    break
                taken.append(index)
                waiting.served += 1
                rows, width = rows + 1, wider
            if not taken:
                break
            shares.append(Share(waiting.caller, taken))
            served.append(waiting)
        for waiting in served:
            (self._new if waiting in self._new else self._turns).remove(waiting)
            if waiting.left:
                self._turns.append(waiting)
            else:
                del self._by_caller[waiting.caller]
        return shares
