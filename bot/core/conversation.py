"""Follow-ups: a short question read with the one before it in the same conversation ("what
is Kaiser offering?" then "and the union?"). Turns are kept in memory, per conversation (a
thread, a channel, a direct message: never shared between users of a DM), for a while."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.models import Answer, Question

MAX_CONVERSATIONS = 10_000
FOLLOW_UP_WORDS = 6  # a message this short may lean on the question before it


@dataclass(frozen=True, slots=True)
class Turn:
    """A question that was answered, and when."""

    question: str
    answer: Answer
    at: float


def conversation_key(question: Question) -> tuple[str, ...] | None:
    """Where a question belongs: its thread (everyone in it); else its user's own in that
    channel or DM. None for the command line, where each question stands alone (`ask -`
    reads a file of unrelated questions)."""
    if question.platform == "cli":
        return None
    if question.thread is not None and question.channel is not None:
        return (question.platform, question.channel, question.thread)
    return (question.platform, question.channel or "dm", question.user or "")


class Conversations:
    """The last answered turn of each conversation, forgotten after `window` seconds."""

    def __init__(self, window: float, clock: Callable[[], float]):
        self.window = window
        self.clock = clock
        self._turns: OrderedDict[tuple[str, ...], Turn] = OrderedDict()

    def last(self, key: tuple[str, ...] | None) -> Turn | None:
        """The conversation's last turn, if it is recent enough."""
        if key is None:
            return None
        turn = self._turns.get(key)
        if turn is None or self.window <= 0:
            return None
        if self.clock() - turn.at > self.window:
            del self._turns[key]
            return None
        return turn

    def remember(self, key: tuple[str, ...] | None, question: str, answer: Answer) -> None:
        if key is None or self.window <= 0 or not answer.answered:
            return
        self._turns[key] = Turn(question, answer, self.clock())
        self._turns.move_to_end(key)
        while len(self._turns) > MAX_CONVERSATIONS:
            self._turns.popitem(last=False)
