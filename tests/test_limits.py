"""Abuse limits in the core (bot/core/limits.py): the sliding window with a fake clock,
per-user and per-channel rates, repeats pointed to, the admin rate, the settings that
carry them, the renderers of the notices, and a flood of 1,000 questions at once."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.cli import App
from bot.core.admin import Actor, AdminService, PermissionDenied, SlowDown
from bot.core.limits import (
    IGNORED,
    NOTICE_KINDS,
    REPEAT,
    SLOW_DOWN,
    Limits,
    SlidingWindow,
    normalise,
)
from bot.core.models import Answer, Question
from bot.core.service import BotConfig, StrikeBot
from bot.render import discord_embeds as embeds
from bot.render import slack_blocks as kit
from bot.render.text import EARLIER_ABOVE, render_plain
from bot.settings import BUNDLED_KNOWLEDGE, Settings
from bot.store.db import Store
from tests.conftest import TODAY

DURATION = "how long has the strike lasted?"
QUESTIONS = [
    "how long has the strike lasted?",
    "what did the studios offer?",
    "what about AI?",
    "who is the AMPTP?",
    "is the strike over yet",
    "what are the writers asking for on residuals?",
    "how much did the studios offer in minimum pay?",
    "what do the writers want about staffing?",
    "when did the strike start?",
    "what is the WGA?",
]
FLOOD = 1000
FLOOD_P99_LIMIT_MS = 500.0  # other users' p99 while one user floods (see the flood test)


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(db_path: Path, clock: FakeClock) -> Iterator[Callable[..., StrikeBot]]:
    """make(**limits): the bot over the bundled knowledge with these limits (all others
    off) on the fake clock."""
    stores: list[Store] = []

    def build(*, clock: Callable[[], float] = clock, **limits: float) -> StrikeBot:
        store = Store(db_path)
        stores.append(store)
        config = BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE, **limits)
        return StrikeBot(store, config, today=lambda: TODAY, clock=clock)

    yield build
    for store in stores:
        store.close()


def q(text: str, user: str | None = "U1", channel: str | None = "C1", **kw) -> Question:
    return Question(text, "slack", user, channel, **kw)


def logged(bot: StrikeBot) -> int:
    return bot.store.db.execute("select count(*) from questions_log").fetchone()[0]


# --- the sliding window -------------------------------------------------------------------


def test_window_admits_the_limit_then_says_how_long_to_wait(clock):
    window = SlidingWindow(3, 60.0, clock=clock)
    assert [window.hit("u") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.advance(10)
    assert window.hit("u") == pytest.approx(50.0)
    assert window.hit("u") == pytest.approx(50.0)  # refused attempts are not counted
    assert window.hit("other") == 0.0  # keys are independent
    clock.advance(50)
    assert window.hit("u") == 0.0  # all three left the window together
    assert window.hit("u") == window.hit("u") == 0.0
    assert window.hit("u") == pytest.approx(60.0)


def test_window_slides_rather_than_resetting(clock):
    window = SlidingWindow(2, 60.0, clock=clock)
    window.hit("u")
    clock.advance(30)
    window.hit("u")
    clock.advance(31)  # the first is 61 s old, the second 31 s
    assert window.hit("u") == 0.0
    assert window.hit("u") == pytest.approx(29.0)


def test_window_off_and_memory_bounded(clock):
    assert SlidingWindow(0, clock=clock).hit("u") == 0.0
    window = SlidingWindow(2, 60.0, clock=clock, max_keys=100)
    for n in range(10_000):
        window.hit(f"user{n}")
    assert len(window) == 100  # the least recently used were forgotten
    clock.advance(61)
    window.hit("late")
    assert len(window) == 1  # keys quiet for a whole window are gone


def test_window_is_thread_safe(clock):
    window = SlidingWindow(500, 60.0, clock=clock)
    admitted = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            if window.hit("shared") == 0.0:
                with lock:
                    admitted["yes"] += 1

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted["yes"] == 500  # of 2,000 attempts, exactly the limit


def test_limits_forget_notices_and_repeats_too(clock):
    limits = Limits(user_rate=1, channel_rate=1, repeat_window=60, clock=clock, max_keys=50)
    for n in range(1000):
        limits.admit(q("a", user=f"U{n}", channel=f"C{n}"))
        limits.admit(q("b", user=f"U{n}", channel=f"C{n}"))  # told: a notice is kept
        answer = Answer(True, "x", kind="answer")
        limits.repeat(q("a", user=f"U{n}", channel=f"C{n}"), answer, revision=1)
    assert len(limits.users) <= 50 and len(limits.channels) <= 50
    assert len(limits._told) <= 50 and len(limits._earlier) <= 50


# --- per user ---------------------------------------------------------------------------


def test_a_flooding_user_is_told_once_then_ignored_until_the_window_frees(make, clock):
    bot = make(user_rate=8)
    kinds = [bot.ask(q(QUESTIONS[n % 10], channel=f"C{n}")).kind for n in range(8)]
    assert not set(kinds) & set(NOTICE_KINDS)
    before = logged(bot)
    clock.advance(5)
    notice = bot.ask(q("what about AI?", channel="C99"))
    assert notice.kind == SLOW_DOWN and notice.private and not notice.answered
    assert notice.retry_after == 55
    assert "up to 8 questions a minute" in notice.text and "55 seconds" in notice.text
    for _ in range(20):
        assert bot.ask(q("what about AI?", channel="C99")).kind == IGNORED
    assert logged(bot) == before  # notices and silences are not logged
    assert bot.ask(q(DURATION, user="U2")).kind == "answer"  # others are not affected
    clock.advance(55)
    assert bot.ask(q("what about AI?", channel="C99")).kind == "answer"


def test_slash_commands_always_get_the_notice_privately(make):
    bot = make(user_rate=2)
    for text in QUESTIONS[:2]:
        bot.ask(q(text, command=True, private=True))
    for _ in range(3):
        notice = bot.ask(q("what about AI?", command=True, private=True))
        assert notice.kind == SLOW_DOWN and notice.private
    # told by a command: a mention now gets silence, not a second public notice
    assert bot.ask(q("what about AI?")).kind == IGNORED


def test_dms_and_status_count_towards_the_user_rate(make):
    bot = make(user_rate=3)
    bot.ask(q(QUESTIONS[0], channel=None))
    bot.status(q("status"))
    bot.ask(q(QUESTIONS[1], channel=None))
    assert bot.ask(q(QUESTIONS[2], channel=None)).kind == SLOW_DOWN
    assert bot.status(q("status")).kind == IGNORED
    assert bot.admit(q("topics")).kind == IGNORED  # topics, sources, help: the same rate


def test_the_console_and_the_cli_are_never_limited(make):
    bot = make(user_rate=1, channel_rate=1, repeat_window=60)
    for _ in range(20):
        assert bot.ask(Question(DURATION, "console", "me")).kind == "answer"
        assert bot.ask(Question(DURATION, "cli")).kind == "answer"
        assert bot.status().kind == "status"


# --- per channel ------------------------------------------------------------------------


def test_a_busy_channel_gets_one_public_notice_then_quiet(make, clock):
    bot = make(channel_rate=5)
    for n in range(5):
        assert bot.ask(q(QUESTIONS[n], user=f"U{n}")).kind not in NOTICE_KINDS
    notice = bot.ask(q(QUESTIONS[5], user="U5"))
    assert notice.kind == SLOW_DOWN and not notice.private  # the whole channel is told
    assert "in this channel" in notice.text and "up to 5 a minute" in notice.text
    assert bot.ask(q(QUESTIONS[6], user="U6")).kind == IGNORED
    # a slash command still gets a reply, privately
    slash = bot.ask(q(QUESTIONS[6], user="U6", command=True))
    assert slash.kind == SLOW_DOWN and slash.private
    # private replies and DMs add nothing to the channel, so they still go through
    assert bot.ask(q(QUESTIONS[7], user="U7", private=True, command=True)).kind == "answer"
    assert bot.ask(q(QUESTIONS[8], user="U8", channel=None)).kind not in NOTICE_KINDS
    assert bot.ask(q(QUESTIONS[9], user="U9", channel="C2")).kind not in NOTICE_KINDS
    clock.advance(60)
    assert bot.ask(q(QUESTIONS[9], user="U9")).kind not in NOTICE_KINDS


def test_a_user_over_their_rate_does_not_use_up_the_channel(make):
    bot = make(user_rate=2, channel_rate=5)
    for n in range(50):
        bot.ask(q(QUESTIONS[n % 10], user="flooder"))
    for n in range(3):
        assert bot.ask(q(QUESTIONS[n], user=f"U{n}")).kind not in NOTICE_KINDS


# --- repeats ----------------------------------------------------------------------------


def test_the_same_question_in_the_channel_points_to_the_earlier_answer(make, clock):
    bot = make(repeat_window=60)
    first = bot.ask(q(DURATION, user="U1"))
    assert first.kind == "answer" and first.repeat_key is not None
    bot.posted(first, link="https://chat.example/archives/C1/p1", message="1700000000.000100")
    before = logged(bot)
    clock.advance(20)
    pointer = bot.ask(q("  How LONG has the Strike lasted  ", user="U2"))
    assert pointer.kind == REPEAT and pointer.private and not pointer.answered
    assert pointer.text == "I answered that in this channel a moment ago."
    assert pointer.link == "https://chat.example/archives/C1/p1"
    assert pointer.earlier == "1700000000.000100"
    assert logged(bot) == before  # a pointer is not logged as a question
    # each user is pointed once; then silence, except a slash command, which must reply
    assert bot.ask(q(DURATION, user="U2")).kind == IGNORED
    assert bot.ask(q(DURATION, user="U2", command=True)).kind == REPEAT
    assert bot.ask(q(DURATION, user="U1")).kind == REPEAT
    # another channel, a DM, a private ask: answered in full
    assert bot.ask(q(DURATION, user="U3", channel="C2")).kind == "answer"
    assert bot.ask(q(DURATION, user="U3", channel=None)).kind == "answer"
    private = bot.ask(q(DURATION, user="U3", private=True, command=True))
    assert private.kind == "answer" and private.repeat_key is None
    clock.advance(41)  # the window is over: answered again
    assert bot.ask(q(DURATION, user="U4")).kind == "answer"


def test_private_answers_are_never_pointed_to(make):
    bot = make(repeat_window=60)
    bot.ask(q(DURATION, user="U1", private=True, command=True))
    assert bot.ask(q(DURATION, user="U2")).kind == "answer"


def test_a_repeat_without_a_recorded_post_says_to_scroll_up(make):
    bot = make(repeat_window=60)
    bot.ask(q(DURATION, user="U1"))  # e.g. posted through a response URL: no id
    pointer = bot.ask(q(DURATION, user="U2"))
    assert pointer.kind == REPEAT and pointer.link is None and pointer.earlier is None
    assert render_plain(pointer).endswith(EARLIER_ABOVE)


def test_status_repeats_point_to_the_earlier_status_whatever_the_words(make, clock):
    bot = make(repeat_window=60)
    first = bot.status(q("status", user="U1", command=True))
    assert first.kind == "status"
    bot.posted(first, link="https://discord.com/channels/1/2/3")
    clock.advance(90 - 60)
    again = bot.status(q("status", user="U2", command=True))
    assert again.kind == REPEAT and "latest picture" in again.text
    assert again.link == "https://discord.com/channels/1/2/3"
    asked = bot.ask(q("what's the status?", user="U3"))
    assert asked.kind == REPEAT


def test_refusals_and_invalid_questions_are_not_pointed_to(make):
    bot = make(repeat_window=60)
    for user in ("U1", "U2"):
        assert bot.ask(q("who won the world cup?", user=user)).kind == "refusal"
        assert bot.ask(q("?!?", user=user)).kind == "invalid"


def test_a_knowledge_change_ends_the_repeat_window(make, root):
    bot = make(repeat_window=60)
    assert bot.ask(q(DURATION, user="U1")).kind == "answer"
    AdminService(bot).edit(root, "strike-duration-130", text="The strike has lasted 131 days.")
    fresh = bot.ask(q(DURATION, user="U2"))
    assert fresh.kind == "answer" and "131 days" in fresh.text


def test_recording_a_post_for_an_answer_nothing_repeats_is_harmless(make):
    bot = make(repeat_window=60)
    answer = bot.ask(q(DURATION, user="U1", channel=None))
    assert answer.kind == "answer" and answer.repeat_key is None  # a DM
    bot.posted(answer, link="https://x.example/1")
    bot.posted(Answer(False, "x", kind="refusal"), message="1")
    assert len(bot.limits._earlier) == 0


def test_questions_are_normalised_with_the_cores_tokens():
    assert normalise("How LONG has the strike lasted?!") == normalise(
        "how long has the strike lasted"
    )
    assert normalise("Qué pasó?") == normalise("que paso")
    assert normalise("how long") != normalise("how long ago")


# --- admins ---------------------------------------------------------------------------


def admin_actor(user: str = "UADMIN") -> Actor:
    """One Actor per command, as the adapters build them."""
    return Actor(user, "slack", is_admin=True)


def test_admin_commands_over_the_rate_are_refused_and_change_nothing(make, clock):
    bot = make(admin_rate=3)
    admin = AdminService(bot)
    admin.retract(admin_actor(), "strike-duration-130", "checking")
    admin.restore(admin_actor(), "strike-duration-130")
    admin.audit(admin_actor())
    audit_before = len(bot.store.audit(limit=1000))
    with pytest.raises(SlowDown) as refused:
        admin.retract(admin_actor(), "strike-duration-130", "again")
    assert "nothing was changed" in str(refused.value) and "60 seconds" in str(refused.value)
    assert isinstance(refused.value, PermissionDenied)  # every adapter already shows these
    assert bot.store.fact("strike-duration-130").status == "active"
    assert len(bot.store.audit(limit=1000)) == audit_before
    admin.audit(admin_actor("UOTHER"))  # per admin
    clock.advance(60)
    admin.retract(admin_actor(), "strike-duration-130", "again")


def test_non_admins_are_refused_without_using_the_rate(make):
    bot = make(admin_rate=1)
    admin = AdminService(bot)
    for _ in range(5):
        with pytest.raises(PermissionDenied) as refused:
            admin.audit(Actor("UMEMBER", "slack", is_admin=False))
        assert not isinstance(refused.value, SlowDown)
    admin.audit(admin_actor())


def test_a_command_that_runs_others_counts_once(make):
    from bot.core.review import ReviewService

    bot = make(admin_rate=2)
    admin = AdminService(bot)
    review = ReviewService(bot, admin)
    article = "The guild said on 27 September 2023 that members ratified the deal by 99 percent."
    _, items = review.add_article(admin_actor(), article, "Deal ratified", "2023-09-27")
    assert items
    # accepting runs AdminService.add inside: still one command, so it fits the rate of 2
    fact = review.accept(admin_actor(), items[0].id, text="Members approved the deal.")
    assert fact.text == "Members approved the deal."
    with pytest.raises(SlowDown):
        admin.audit(admin_actor())


def test_cli_admins_are_trusted(make):
    bot = make(admin_rate=1)
    admin = AdminService(bot)
    for _ in range(5):
        admin.audit(Actor("ops", is_admin=True))  # platform "cli"


# --- settings -----------------------------------------------------------------------------


def test_settings_carry_the_limits_into_the_core(tmp_path: Path):
    defaults = App(Settings(_env_file=None, STRIKEBOT_DB=tmp_path / "a.db"))
    limits = defaults.bot.limits
    assert (limits.users.limit, limits.channels.limit, limits.admins.limit) == (8, 30, 20)
    assert limits.repeat_window == 60.0
    custom = App(
        Settings(
            _env_file=None,
            STRIKEBOT_DB=tmp_path / "b.db",
            STRIKEBOT_USER_RATE=0,
            STRIKEBOT_CHANNEL_RATE=5,
            STRIKEBOT_REPEAT_WINDOW=0,
            STRIKEBOT_ADMIN_RATE=2,
        )
    )
    limits = custom.bot.limits
    assert (limits.users.limit, limits.channels.limit, limits.admins.limit) == (0, 5, 2)
    assert limits.repeat_window == 0
    defaults.store.close()
    custom.store.close()


def test_env_example_documents_every_limit():
    text = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    for name in ("USER_RATE", "CHANNEL_RATE", "REPEAT_WINDOW", "ADMIN_RATE"):
        assert f"\nSTRIKEBOT_{name}=" in text


# --- rendering the notices ----------------------------------------------------------------


def notices() -> list[Answer]:
    limits = Limits(user_rate=1, channel_rate=1, repeat_window=60, clock=FakeClock())
    limits.admit(q("a"))
    user = limits.admit(q("b"))
    ignored = limits.admit(q("b"))
    channel = limits.admit(q("c", user="U2"))
    first = Answer(True, "x", kind="answer")
    limits.repeat(q("d", user="U3", channel="C9"), first, 1)
    bare = limits.repeat(q("d", user="U4", channel="C9"), Answer(True, "x"), 1)
    linked = Answer(False, bare.text, kind=REPEAT, link="https://chat.example/p?a=1&b=<2>")
    evil = Answer(False, bare.text, kind=REPEAT, link="javascript:alert(1) @everyone")
    return [user, ignored, channel, bare, linked, evil]


def test_notices_render_safely_everywhere():
    for answer in notices():
        assert answer.kind in NOTICE_KINDS
        plain = render_plain(answer)
        assert plain.startswith(answer.text)
        message = kit.answer_message(answer, asked="<!channel> hi @here")
        dumped = json.dumps(message)
        assert "<!channel>" not in dumped and "@here" not in dumped.replace("@\u2060here", "")
        assert 1 <= len(message["blocks"]) <= kit.BLOCK_LIMIT and message["text"]
        assert not any(b["type"] == "actions" for b in message["blocks"])  # no buttons
        embed = embeds.answer_embed(answer)
        assert embeds.embed_length(embed) <= embeds.TOTAL_MAX
        assert "@everyone" not in json.dumps(embed)
        assert "javascript:" not in json.dumps(message) + json.dumps(embed)


def test_a_repeat_links_its_earlier_answer():
    _user, _ignored, _channel, bare, linked, evil = notices()
    section = kit.answer_message(linked)["blocks"][0]["text"]["text"]
    assert "<https" not in section and section.endswith(EARLIER_ABOVE)  # "<2>": not linked
    good = Answer(False, bare.text, kind=REPEAT, link="https://union.slack.com/archives/C1/p17")
    section = kit.answer_message(good)["blocks"][0]["text"]["text"]
    assert section.endswith("<https://union.slack.com/archives/C1/p17|See my answer>")
    jump = Answer(False, bare.text, kind=REPEAT, link="https://discord.com/channels/1/2/3")
    embed = embeds.answer_embed(jump)
    assert embed["title"] == "Answered a moment ago"
    assert embed["description"].endswith("[See my answer](https://discord.com/channels/1/2/3)")
    assert render_plain(jump).endswith("See my answer: https://discord.com/channels/1/2/3")
    assert kit.answer_message(bare)["blocks"][0]["text"]["text"].endswith(EARLIER_ABOVE)
    assert embeds.answer_embed(evil)["description"].endswith(EARLIER_ABOVE)
    slow = embeds.answer_embed(_user)
    assert slow["title"] == "Slow down a little" and "try again in" in slow["description"]


# --- a flood ------------------------------------------------------------------------------


def test_a_flood_from_one_user_does_not_delay_other_users(make):
    """1,000 questions from one user arrive at once, on 1,000 threads against the core,
    while 20 other users (each in their own channel) ask 5 questions each. Limit: the other
    users' p99 latency stays under FLOOD_P99_LIMIT_MS (500 ms) and every one of their
    questions is answered; the flooder gets exactly 8 answers, 1 notice and 991 silences.

    Measured on 2 cores: p99 70-250 ms with the flood (a refused question costs ~7 us; the
    rest is 1,000 threads released at once taking turns at the GIL), p99 ~70 ms for the 20
    users alone, and p99 ~1.3 s for the same flood with the limits off."""
    bot = make(clock=time.monotonic, user_rate=8, channel_rate=30, repeat_window=60)
    bot.warm()
    go = threading.Event()
    flood_kinds: list[str] = []
    latencies: list[float] = []
    other_kinds: list[str] = []
    lock = threading.Lock()

    def flooder(n: int) -> None:
        go.wait()
        kind = bot.ask(q(QUESTIONS[n % 10] + f" {n}", user="flooder", channel="C0")).kind
        with lock:
            flood_kinds.append(kind)

    def other(n: int) -> None:
        go.wait()
        for text in QUESTIONS[:5]:
            start = time.perf_counter()
            kind = bot.ask(q(text, user=f"U{n}", channel=f"C{n + 1}")).kind
            with lock:
                latencies.append(time.perf_counter() - start)
                other_kinds.append(kind)
            time.sleep(0.002)

    threads = [threading.Thread(target=flooder, args=(n,)) for n in range(FLOOD)]
    threads += [threading.Thread(target=other, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(timeout=60)
    counts = Counter(flood_kinds)
    assert len(flood_kinds) == FLOOD
    assert counts[SLOW_DOWN] == 1 and counts[IGNORED] == FLOOD - 9
    assert sum(v for k, v in counts.items() if k not in NOTICE_KINDS) == 8
    assert len(other_kinds) == 100 and not set(other_kinds) & set(NOTICE_KINDS)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"flood: other users' p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms")
    assert p99 < FLOOD_P99_LIMIT_MS
