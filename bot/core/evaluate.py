"""Score the bot on a question file (`{"q", "expect"}` or `{"q", "answerable": false}` lines)."""

from __future__ import annotations

import json
import re
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
    pack: str | None = None  # the dispute the question is asked in (a channel's pack)


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
    by_pack: dict[str, list[int]] = field(default_factory=dict)  # pack -> [passed, total]

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
        pack = item.get("pack")
        if pack is not None and not isinstance(pack, str):
            raise EvalFileError(f'{path}:{number}: "pack" must be a pack id')
        if item.get("answerable", True) is False:
            cases.append(Case(item["q"], answerable=False, line=number, pack=pack))
            continue
        expect = item.get("expect")
        if not isinstance(expect, list) or not all(
            isinstance(g, list) and g and all(isinstance(a, str) for a in g) for g in expect
        ):
            raise EvalFileError(
                f'{path}:{number}: "expect" must be a list of lists of strings '
                '(or give "answerable": false)'
            )
        cases.append(Case(item["q"], tuple(tuple(g) for g in expect), line=number, pack=pack))
    return cases


_MONTHS = {
    m[:3]: m
    for m in [
        *("january", "february", "march", "april", "may", "june"),
        *("july", "august", "september", "october", "november", "december"),
    ]
}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}(?![a-z])")
_MONTH_DAY = re.compile(rf"\b{_MONTH} (\d{{1,2}})(?:st|nd|rd|th)?\b")


def _dates(text: str) -> str:
    """Dates in one order and spelling: "13 Nov", "Nov. 13" and "November 13th" all read
    "november 13", so an expected date matches however the fact writes it."""
    text = _DAY_MONTH.sub(lambda m: f"{_MONTHS[m.group(2)]} {int(m.group(1))}", text)
    return _MONTH_DAY.sub(lambda m: f"{_MONTHS[m.group(1)]} {int(m.group(2))}", text)


def judge(case: Case, answer: Answer) -> str | None:
    """None when the answer passes, else why it does not. Text is compared without case,
    and dates in any common order or spelling ("13 October" passes for "Oct. 13")."""
    if not case.answerable:
        return "answered a question it should have declined" if answer.answered else None
    if not answer.answered:
        return "declined a question it should have answered"
    text = _dates(answer.text.casefold())
    missing = [g for g in case.expect if not any(_dates(alt.casefold()) in text for alt in g)]
    if missing:
        return "missing " + " and ".join("/".join(g) for g in missing)
    return None


def evaluate(
    cases: Iterable[Case], ask: Callable[[str, str | None], Answer], pack: str | None = None
) -> Report:
    """Score each case: `ask(question, pack)` with the case's pack, else `pack`. The report
    counts per dispute too (by the answer's dispute, else the pack asked in)."""
    report = Report()
    for case in cases:
        answer = ask(case.question, case.pack or pack)
        report.total += 1
        why = judge(case, answer)
        group = report.by_pack.setdefault(case.pack or pack or answer.dispute or "", [0, 0])
        group[1] += 1
        if why is None:
            report.passed += 1
            group[0] += 1
        else:
            report.misses.append(Miss(case, answer, why))
    return report
