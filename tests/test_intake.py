"""Article intake: sentence splitting, candidate facts and topic suggestions (pure, no store
writes). The shared article is read from ../shared (never copied here); our own short
article in tests/data runs everywhere."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.core.intake import not_a_statement, propose, signals
from bot.core.packs import local
from bot.core.sentences import split_sentences
from bot.core.service import StrikeBot
from bot.core.topics import TopicGuide
from bot.store.knowledge_files import TOPIC_RE
from tests.conftest import DATA, SHARED, need_shared, shared_missing

OWN_ARTICLE = DATA / "article_test.txt"


def shared_article() -> str:
    files = sorted(need_shared("articles").glob("*.txt"))
    if not files:
        shared_missing(f"{SHARED / 'articles'} has no .txt article")
    return files[0].read_text(encoding="utf-8")


def candidates_of(bot: StrikeBot, text: str, as_of: dt.date | None = None):
    bot.refresh()
    k = bot.knowledge
    return propose(text, bot.language_for("wga-2023"), k.topics, k.facts.values(), as_of=as_of)


# --- sentences ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith met U.S. officials at 3 p.m. on Sept. 27. The talks failed.",
            ["Dr. Smith met U.S. officials at 3 p.m. on Sept. 27.", "The talks failed."],
        ),
        (
            "The raise is 3.5% a year. It was 12.5% before.",
            ["The raise is 3.5% a year.", "It was 12.5% before."],
        ),
        ("He lives in the U.S. The union said no.", ["He lives in the U.S.", "The union said no."]),
        ("Item No. 5 passed! Why? Nobody knows.", ["Item No. 5 passed!", "Why?", "Nobody knows."]),
        ("J. R. Doe left. Mr. Roe stayed.", ["J. R. Doe left.", "Mr. Roe stayed."]),
        (
            "They were not “nearly enough.” The union said so.",
            ["They were not “nearly enough.”", "The union said so."],
        ),
        ("“Why now?” she asked. Nobody answered.", ["“Why now?” she asked.", "Nobody answered."]),
        (
            "date 2023-09-27\n\nFirst line\nwraps here.\n\nSecond paragraph",
            ["First line wraps here.", "Second paragraph"],
        ),
    ],
)
def test_split_sentences_edge_cases(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_quotation_over_several_sentences_is_closed_and_reopened() -> None:
    text = "“We will fight. We will win,” the union said. 'Fine.' \"One. Two.\" Done."
    got = split_sentences(text)
    assert got[:2] == ["“We will fight.”", "“We will win,” the union said."]
    assert '"One."' in got and '"Two."' in got
    for sentence in got:
        assert sentence.count("“") == sentence.count("”")
        assert sentence.count('"') % 2 == 0


def test_empty_and_punctuation_only_text_has_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ... !!! \n") == []


# --- signals --------------------------------------------------------------------------------


def test_signals_name_what_makes_a_sentence_checkable(bot: StrikeBot) -> None:
    lang = bot.language_for("wga-2023")
    assert {"percentage", "figure"} <= set(signals("Pay rises 3.5% next year.", lang))
    assert "duration" in signals("The walkout lasted one hundred and forty-eight days.", lang)
    assert "date" in signals("Talks resume on Monday.", lang)
    assert "date" in signals("It is the first double strike since 1960.", lang)
    assert "party" in signals("There has been no response from the AMPTP.", lang)
    assert "quote" in signals("She called it “a fair deal at long last”.", lang)
    assert signals("It was a long summer.", lang) == ()


# --- candidates -----------------------------------------------------------------------------

SHARED_FIGURES = [
    r"\b130 days",
    r"(?<![\d.])5%",
    r"(?<![\d.])4%",
    r"3\.5%",
    r"(?<![\d.])6%",
    r"(?<![\d.])5% increases",
    r"12\.5%",
    r"(?<![\d.])21%",
    r"\bsix\b.*\bstaff members\b",
    r"\bthree years\b",
    r"\b35 years\b",
    r"\b1960\b",
]


def test_the_shared_article_proposes_every_curated_figure(bot: StrikeBot) -> None:
    found = candidates_of(bot, shared_article(), dt.date(2023, 9, 11))
    sentences = [c.sentence for c in found]
    for figure in SHARED_FIGURES:
        assert any(re.search(figure, s) for s in sentences), f"no candidate holds {figure}"
    assert all(c.as_of == dt.date(2023, 9, 11) for c in found)
    assert not any(s.startswith("date ") for s in sentences)  # the file's date stamp is dropped


@pytest.mark.parametrize(
    ("figure", "topic"),
    [
        ("130 days", "strike.duration"),
        ("3.5%", "offer.pay"),
        ("6%", "demand.pay"),
        ("12.5%", "studios.dga-pattern"),
        ("1960", "strike.simultaneous"),
        ("six WGA staff", "viewership.offer"),
    ],
)
def test_shared_article_candidates_suggest_the_curated_topics(
    bot: StrikeBot, figure: str, topic: str
) -> None:
    found = candidates_of(bot, shared_article())
    [candidate] = [c for c in found if figure in c.sentence]
    assert local(candidate.topic) == topic
    assert not candidate.new_topic


def test_own_article_candidates(bot: StrikeBot) -> None:
    published = dt.date(2023, 9, 27)
    found = candidates_of(bot, OWN_ARTICLE.read_text(encoding="utf-8"), published)
    by_figure = {
        fig: c for c in found for fig in ("148 days", "3.5%", "50 percent") if fig in c.sentence
    }
    assert local(by_figure["148 days"].topic) == "strike.duration"
    assert "duration" in by_figure["148 days"].signals
    assert local(by_figure["3.5%"].topic) == "offer.pay"
    assert "percentage" in by_figure["50 percent"].signals
    assert not any("long summer" in c.sentence for c in found)  # nothing to check in it
    assert all(c.draft == c.sentence and c.as_of == published for c in found)
    assert any(s.startswith("Dr. Jane Example") for s in (c.sentence for c in found))


def test_nothing_close_proposes_a_new_dotted_topic(bot: StrikeBot) -> None:
    [candidate] = candidates_of(
        bot, "Dr. Jane Example, a labour economist at the Riverside Ledger, praised it in 2023."
    )
    assert candidate.new_topic
    assert candidate.topic not in bot.knowledge.topics
    assert "." in candidate.topic and TOPIC_RE.match(candidate.topic)


def test_new_topic_ids_never_clash(bot: StrikeBot) -> None:
    guide = TopicGuide.build(
        bot.language_for("wga-2023"), bot.knowledge.topics, bot.knowledge.facts.values()
    )
    first = guide.new_topic("The economist praised it.")
    guide.profiles[first] = guide.profiles["wga-2023/strike.duration"]
    second = guide.new_topic("The economist praised it.")
    assert second != first and second.startswith(first)


def test_a_repeated_sentence_is_proposed_once(bot: StrikeBot) -> None:
    text = "The WGA walkout lasted 148 days.\n\nThe WGA walkout lasted 148 days."
    assert len(candidates_of(bot, text)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Picketers outside the plant on Tuesday. (AP Photo/Jane Doe)",
        "Workers rally in Oakland on 4 October 2023. Photo: Riverside Ledger",
        "By Maria Lopez and Sam Chen",
        "Staff writer Sam Chen contributed to this report.",
        "The union said the company's offer of 5% would",
        "and the two sides agreed to return on Thursday with a 4% offer.",
        "The walkout, which began on 4 October, involved 75,000...",
    ],
)
def test_captions_bylines_and_cut_off_fragments_are_not_candidates(
    bot: StrikeBot, text: str
) -> None:
    assert not_a_statement(text)
    assert candidates_of(bot, text) == []


def test_a_whole_sentence_with_a_figure_is_still_a_candidate(bot: StrikeBot) -> None:
    text = "By Tuesday the union had won a 5% raise."
    assert not not_a_statement(text)
    assert [c.sentence for c in candidates_of(bot, text)] == [text]


def test_an_article_for_another_pack_gets_only_that_packs_topics(tmp_path) -> None:
    from bot.core.admin import Actor, AdminService
    from bot.core.packs import pack_of
    from bot.core.review import ReviewService
    from tests.test_packs import EXAMPLES, WGA, knowledge_dir, make_bot

    bot = make_bot(tmp_path, knowledge_dir(tmp_path, WGA, EXAMPLES / "kaiser-2023"))
    review = ReviewService(bot, AdminService(bot))
    article = (
        "Kaiser raised its offer to a 21% increase over four years on Friday. "
        "The coalition said 75,000 workers would return to work on Saturday."
    )
    admin = Actor("root", "cli", is_admin=True)
    _, items = review.add_article(admin, article, "Kaiser deal", "2023-10-13", pack="kaiser-2023")
    assert items and all(pack_of(i.record.topic) == "kaiser-2023" for i in items)
    fact = review.accept(
        admin, items[0].record.id, text="Kaiser offered 21% over four years.",
        questions=("what is kaiser offering now",),
    )  # fmt: skip
    assert fact.questions == ("what is kaiser offering now",)
