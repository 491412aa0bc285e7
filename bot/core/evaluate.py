"""Score the bot on a question file (`{"q", "expect"}` or `{"q", "answerable": false}` lines)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.models import Answer


class EvalFileError(ValueError):
    """A question file line that is not in the expected format."""


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    expect: tuple[tuple[str, ...], ...] = ()
    answerable: bool = True
    line: int = 0


@dataclass(frozen=True, slots=True)
class Miss:
    case: Case
    answer: Answer
    why: str


@dataclass(slots=True)
class Report:
    total: int = 0
    passed: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def read_cases(path: Path) -> list[Case]:
    cases = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise EvalFileError(f"{path}:{number}: nested too deeply to read") from None
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            raise EvalFileError(f'{path}:{number}: each line needs a "q" string')
        if item.get("answerable", True) is False:
            cases.append(Case(item["q"], answerable=False, line=number))
            continue
        expect = item.get("expect")
        if not isinstance(expect, list) or not all(
            isinstance(g, list) and g and all(isinstance(a, str) for a in g) for g in expect
        ):
            raise EvalFileError(
                f'{path}:{number}: "expect" must be a list of lists of strings '
                '(or give "answerable": false)'
            )
        cases.append(Case(item["q"], tuple(tuple(g) for g in expect), line=number))
    return cases


def judge(case: Case, answer: Answer) -> str | None:
    """None when the answer passes, else why it does not."""
    if not case.answerable:
        return "answered a question it should have declined" if answer.answered else None
    if not answer.answered:
        return "declined a question it should have answered"
    text = answer.text.casefold()
    missing = [g for g in case.expect if not any(alt.casefold() in text for alt in g)]
    if missing:
        return "missing " + " and ".join("/".join(g) for g in missing)
    return None


def evaluate(cases: Iterable[Case], ask: Callable[[str], Answer]) -> Report:
    report = Report()
    for case in cases:
        answer = ask(case.question)
        report.total += 1
        why = judge(case, answer)
        if why is None:
            report.passed += 1
        else:
            report.misses.append(Miss(case, answer, why))
    return report
