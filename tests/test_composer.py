"""Composing answers: supersession, several facts side by side, citations, staleness."""

from __future__ import annotations

import datetime as dt

from bot.core.service import StrikeBot


def newer_offer(admin, root):
    return admin.add(
        root,
        text="The studios improved their offer to 6% in year one, then 5% and 4%.",
        topic="offer.pay",
        as_of="2023-09-25",
        source_title="A later report",
        published="2023-09-25",
        url="https://example.org/later",
        publisher="Example News",
    )


def test_every_answer_cites_its_source_and_date(bot):
    answer = bot.answer("how long has the strike lasted")
    assert answer.answered
    assert answer.as_of == dt.date(2023, 9, 11)
    assert "130" in answer.text
    assert "(as of 11 Sep 2023)" in answer.text
    [citation] = answer.citations
    assert citation.published == dt.date(2023, 9, 11)
    assert f"“{citation.title}”" in answer.text


def test_newer_fact_on_a_topic_supersedes_and_keeps_history(bot, admin, root):
    fact = newer_offer(admin, root)
    answer = bot.answer("what did the studios offer on pay")
    assert answer.fact_ids[0] == fact.id
    statement = answer.statements[0]
    assert statement.history is not None and statement.history.id == "offer-pay"
    assert "Earlier:" in answer.text and "3.5%" in answer.text
    assert {c.title for c in answer.citations} >= {"A later report"}
    assert answer.as_of == dt.date(2023, 9, 25)
    assert "Example News" in answer.text and "https://example.org/later" in answer.text


def test_matching_the_old_wording_still_answers_with_the_newest(bot, admin, root):
    fact = newer_offer(admin, root)
    answer = bot.answer("is the offer the biggest raise in 35 years")
    assert answer.fact_ids[0] == fact.id


def test_retracted_fact_leaves_answers_and_restore_brings_it_back(bot, admin, root):
    fact = newer_offer(admin, root)
    admin.retract(root, fact.id, "misreported")
    assert bot.answer("what did the studios offer on pay").fact_ids[0] == "offer-pay"
    admin.restore(root, fact.id)
    assert bot.answer("what did the studios offer on pay").fact_ids[0] == fact.id


def test_compare_puts_offer_and_demand_side_by_side(bot):
    answer = bot.answer("compare the studios' offer with what writers asked for")
    assert answer.answered
    assert {"offer-pay", "demand-pay"} <= set(answer.fact_ids)
    for figure in ("5%", "4%", "3.5%", "6%"):
        assert figure in answer.text
    assert "• " in answer.text  # one bullet per fact, each labelled


def test_status_has_day_count_offer_demand_unresolved(bot):
    status = bot.status()
    assert status.kind == "status" and status.answered
    assert status.fact_ids[:4] == [
        "strike-duration-130",
        "talks-standstill",
        "offer-pay",
        "demand-pay",
    ]
    assert "talks-unresolved" in status.fact_ids
    assert status.text.startswith("Latest picture (as of 11 Sep 2023)")


def test_status_question_in_chat_gives_the_status(bot):
    assert bot.answer("what's the latest status?").kind == "status"
    assert bot.answer("latest?").kind == "status"
    assert bot.answer("what's the latest offer").kind == "answer"


def test_stale_warning_appears_and_disappears_with_the_date(fresh_store, config):
    today = [dt.date(2023, 9, 20)]
    bot = StrikeBot(fresh_store, config, today=lambda: today[0])
    assert bot.answer("how long has the strike lasted").stale_warning is None
    today[0] = dt.date(2023, 10, 30)
    answer = bot.answer("how long has the strike lasted")
    assert answer.stale_warning == (
        "My latest source on this is from 11 Sep 2023; it may be out of date."
    )
    assert answer.stale_warning in answer.text
    assert "may be out of date" in bot.status().text


def test_refusal_says_so_and_suggests(bot):
    answer = bot.answer("who won the world cup")
    assert not answer.answered and answer.kind == "refusal"
    assert answer.facts if hasattr(answer, "facts") else answer.fact_ids == []
    assert "don't have a sourced answer" in answer.text
    assert len(answer.suggestions) >= 3
    assert all(s.endswith("?") for s in answer.suggestions)
    assert answer.citations == []


def test_invalid_input_is_explained(bot):
    for text, words in [
        ("", "Please type"),
        ("   \n ", "Please type"),
        ("x" * 5000, "5,000 characters"),
        ("🔥🔥", "in words"),
        ("\x00\x01\x02\x03\x04\x05", "binary"),
    ]:
        answer = bot.answer(text)
        assert answer.kind == "invalid" and not answer.answered
        assert words in answer.text


def test_ask_logs_questions_without_user_ids_by_default(bot):
    from bot.core.models import Question

    answer = bot.ask(Question("who won the world cup", platform="test", user="U123"))
    [row] = bot.store.unanswered()
    assert row["question"] == "who won the world cup"
    logged = bot.store.logged_question(answer.log_id)
    assert logged["user"] is None and logged["platform"] == "test"
    assert bot.feedback(answer.log_id, False, "test", "U123")
    assert bot.store.feedback()[0]["user"] is None
    assert not bot.feedback(999999, True, "test", None)


def test_admin_needs_permission_and_changes_nothing_without(bot, admin, member):
    import pytest

    from bot.core.admin import PermissionDenied

    before = bot.store.facts()
    with pytest.raises(PermissionDenied):
        admin.retract(member, "offer-pay", "because")
    with pytest.raises(PermissionDenied):
        admin.add(
            member,
            text="x",
            topic="a.b",
            as_of="2023-01-01",
            source_title="t",
            published="2023-01-01",
        )
    assert bot.store.facts() == before
    assert not [e for e in bot.store.audit(limit=500) if e["action"] in ("retract", "add")]


def test_admin_input_is_validated(admin, root):
    import pytest

    from bot.core.admin import AdminInputError

    bad = [
        dict(text="", topic="a.b", as_of="2023-01-01", source_title="t", published="2023-01-01"),
        dict(
            text="x",
            topic="Not A Topic",
            as_of="2023-01-01",
            source_title="t",
            published="2023-01-01",
        ),
        dict(text="x", topic="a.b", as_of="yesterday", source_title="t", published="2023-01-01"),
        dict(text="x", topic="a.b", as_of="2023-01-01"),
        dict(
            text="x",
            topic="a.b",
            as_of="2023-01-01",
            source_title="t",
            published="2023-01-01",
            url="javascript:alert(1)",
        ),
    ]
    for fields in bad:
        with pytest.raises(AdminInputError):
            admin.add(root, **fields)
    with pytest.raises(AdminInputError):
        admin.retract(root, "offer-pay", "   ")


def test_admin_changes_notify_listeners_with_the_previous_current_fact(admin, root):
    seen = []
    admin.on_fact_changed.append(
        lambda fact, previous, actor: seen.append(
            (fact.id, previous.id if previous else None, actor.id)
        )
    )
    fact = newer_offer(admin, root)
    admin.edit(root, fact.id, text="The studios offered 6%, 5% and 4% over three years.")
    assert seen == [(fact.id, "offer-pay", "tester"), (fact.id, fact.id, "tester")]


def test_compare_without_naming_pay_still_pairs_offer_and_demand(bot):
    answer = bot.answer("compare the offer and the demand")
    assert answer.fact_ids[:2] in (["offer-pay", "demand-pay"], ["demand-pay", "offer-pay"])


def test_refusal_of_an_unrelated_question_suggests_only_core_topics(bot):
    answer = bot.answer("who won the world cup")
    assert "Will ai replace writers?" not in answer.suggestions


def test_a_broad_question_leads_with_the_headline_fact(bot):
    answer = bot.answer("what did the studios offer?")
    assert answer.fact_ids[0] == "offer-pay"
