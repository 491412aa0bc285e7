"""How a message is read: as a whole and, when it holds several sentences, question by
question; and whether it only asks for the latest picture."""

from __future__ import annotations

import re

from bot.core.language import Language
from bot.core.matcher import Analysis, Match, Matcher

MAX_SENTENCES = 3
_SENTENCE_END = re.compile(r"(?<=[?.!])\s+")


def best_reading(matcher: Matcher, text: str) -> tuple[Analysis, list[Match]]:
    """Match the whole message and, for a message of several sentences ("I was on the
    picket line and someone said ... What did they actually offer?"), its questions on
    their own too: the reading whose best fact scores highest wins."""
    readings = [matcher.match(text)]
    sentences = [p for p in _SENTENCE_END.split(text) if len(p.split()) >= 2]
    if len(sentences) > 1:
        # The questions in it and its last sentence, "?" or not (people drop the final
        # question mark, and adding it must not change the answer): context ("I'm new
        # to the guild.") is not read as a question of its own.
        asked = [p for p in sentences[:-1] if p.rstrip().endswith("?")] + sentences[-1:]
        readings.extend(matcher.match(p) for p in asked[-MAX_SENTENCES:])
    return max(readings, key=lambda r: r[1][0].score if r[1] else 0.0)


def is_status_request(language: Language, analysis: Analysis) -> bool:
    """True when every content word of the question asks for the latest picture."""
    content = [c for c in analysis.concepts if c not in language.question_words]
    return bool(content) and all(c == "status" for c in content)
