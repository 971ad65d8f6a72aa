"""Answers worked out once per key and kept, for at most a fixed number of keys.

The fast path asks some questions whose answer depends only on what a client sends the same
way on every request (its Host and Origin, its Accept header, its envelope) or only on the
tool it calls (its input schema), so it keeps the answers. A client sending a new value every
time, or a relay relisting its tools, must not grow them without bound: when `size` keys are
kept, all are forgotten, which costs such a flood one recomputation per request and costs the
clients that repeat themselves one recomputation each.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class KeptAnswers(Generic[K, V]):
    """At most `size` answers, by key."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"KeptAnswers: size must be at least 1, not {size}")
        self._size = size
        self._answers: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._answers.get(key)

    def keep(self, key: K, answer: V) -> V:
        """Keep `answer` for `key` (forgetting every other first if `size` are kept); returns it."""
        if len(self._answers) >= self._size:
            self._answers.clear()
        self._answers[key] = answer
        return answer

    def __len__(self) -> int:
        return len(self._answers)
