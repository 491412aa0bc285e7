"""The platform-neutral bot: every adapter (console, Slack, Discord) calls this and nothing
else to answer questions, show status, topics and sources, and record feedback."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core.bulk import paused_gc
from bot.core.composer import Composer, Knowledge
from bot.core.conversation import FOLLOW_UP_WORDS, Conversations, Turn, conversation_key
from bot.core.language import Language, clean, tokens
from bot.core.limits import IGNORED, TRUSTED, WINDOW_S, Limits
from bot.core.matcher import Matcher
from bot.core.models import Answer, Fact, Question, Source
from bot.core.packs import Pack, pack_language, pack_of
from bot.core.reading import is_status_request
from bot.core.routing import PackIndex, Router
from bot.render.text import render_plain
from bot.store.db import NotFound, Store, StoreError
from bot.store.knowledge_files import KnowledgeSet
from bot.store.pack_files import PackFiles, general_language, load_packs, pack_paths
from bot.store.packs import PackStore
from bot.store.rate_events import RateEvents

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True, slots=True)
class BotConfig:
    """What the core needs from the settings."""

    knowledge_dir: Path
    min_confidence: float = 0.5
    stale_days: int = 14
    store_user_ids: bool = False
    retention_days: int = 90
    # Abuse limits (bot.core.limits), 0 = off: off for a bot built in code (tests,
    # benchmarks); the settings turn them on (STRIKEBOT_USER_RATE=8 ... by default).
    user_rate: int = 0  # questions per user per minute
    channel_rate: int = 0  # questions answered in public per channel per minute
    repeat_window: float = 0.0  # seconds a repeat points to the earlier answer
    admin_rate: int = 0  # admin commands per admin per minute
    trusted_platforms: frozenset[str] = TRUSTED  # never limited: local operators
    shared_limits: bool = False  # rates counted in the database, across processes
    default_pack: str | None = None  # the dispute a question is about unless told otherwise
    followup_window: float = 0.0  # seconds a conversation's last question is kept (0: off)


def knowledge_fingerprint(directory: Path) -> str:
    """A digest of every pack file (and the deployment's language.yaml) of a folder."""
    digest = hashlib.sha256()
    paths = pack_paths(directory)
    extra = directory / "language.yaml"
    for path in [*paths, *([extra] if extra.is_file() else [])]:
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_question(text: str) -> tuple[str, str | None]:
    """The cleaned question, or a reason it cannot be answered as typed."""
    if not isinstance(text, str):
        return "", "Please send the question as text."
    if len(text) > MAX_QUESTION_CHARS:
        return "", (
            f"That message is {len(text):,} characters long; please ask one question in "
            f"under {MAX_QUESTION_CHARS:,} characters."
        )
    controls = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"))
    controls -= text.count("\n") + text.count("\t") + text.count("\r")
    if text and controls > max(2, len(text) // 10):
        return "", "That looks like binary data rather than a question. Please type a question."
    cleaned = clean(text)
    if not cleaned:
        return "", "Please type a question about the strike."
    if not any(ch.isalnum() for ch in cleaned):
        return "", "I can only answer questions in words. Please type a question about the strike."
    return cleaned, None


def log_outcome(question: Question, answer: Answer, seconds: float) -> None:
    """The per-question log line: platform, outcome, latency and facts; never the user."""
    log.info(
        "question on %s: %s in %.1f ms",
        question.platform,
        answer.kind if answer.kind != "answer" or answer.answered else "refusal",
        seconds * 1000,
        extra={
            "event": "question",
            "platform": question.platform,
            "outcome": answer.kind,
            "answered": answer.answered,
            "latency_ms": round(seconds * 1000, 2),
            "confidence": round(answer.confidence, 3),
            "facts": answer.fact_ids,
            "log_id": answer.log_id,
            "chars": len(question.text) if isinstance(question.text, str) else 0,
        },
    )


class StrikeBot:
    """Knowledge, matcher and composer over one store; reloads when the store changes."""

    def __init__(
        self,
        store: Store,
        config: BotConfig,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        sync_bundled: bool = True,
        clock: Callable[[], float] | None = None,
    ):
        self.store = store
        self.config = config
        self.today = today
        if config.shared_limits:  # several processes count together: a wall clock
            counter = RateEvents(store, WINDOW_S)
            self.limits = Limits.from_config(config, clock or time.time, shared=counter)
        else:
            self.limits = Limits.from_config(config, clock or time.monotonic)
        self._lock = threading.RLock()
        self.conversations = Conversations(config.followup_window, clock or time.monotonic)
        self.language = self._load_language()
        if sync_bundled:
            self.sync_bundled()
        try:
            purged = self.store.purge_logs(self.config.retention_days)
        except StoreError as exc:  # housekeeping must not stop the bot from answering
            log.warning("could not purge old logs: %s", exc)
        else:
            if purged:
                log.info("purged %d question/feedback log entries past retention", purged)
        self._version = -1
        self._knowledge: Knowledge | None = None
        self._matcher: Matcher | None = None
        self._composer: Composer | None = None
        self._router: Router | None = None
        self._bindings: dict[tuple[str, str], str] | None = None
        self.refresh()

    # --- loading -------------------------------------------------------------------------

    def _load_language(self) -> Language:
        return general_language(self.config.knowledge_dir / "language.yaml")

    def bundled_packs(self) -> list[PackFiles]:
        """The packs of the knowledge folder, validated (KnowledgeError if any is not)."""
        return load_packs(self.config.knowledge_dir)

    def sync_bundled(self) -> dict[str, int] | None:
        """Bring new or changed bundled packs and facts into the store (see
        Store.sync_bundled); packs no longer in the folder stop answering."""
        directory = self.config.knowledge_dir
        if not directory.is_dir():
            log.warning("knowledge directory %s not found; nothing bundled to load", directory)
            return None
        fingerprint = knowledge_fingerprint(directory)
        if self.store.meta("bundle_fingerprint") == fingerprint:
            return None
        packs = self.bundled_packs()
        PackStore(self.store).sync_bundled((p.pack, str(p.folder)) for p in packs)
        knowledge = KnowledgeSet(
            sources=[s for p in packs for s in p.knowledge.sources],
            facts=[f for p in packs for f in p.knowledge.facts],
        )
        topics = [t for p in packs for t in p.topics]
        counts = self.store.sync_bundled(knowledge, topics, fingerprint)
        if counts:
            log.info("bundled knowledge synced: %s", counts)
        return counts

    def refresh(self, *, force: bool = False) -> None:
        """Forget the index if the store's knowledge changed (in this process or another);
        it is rebuilt when next needed, so admin commands never wait for it."""
        with self._lock:
            version = self.store.knowledge_revision()
            if version == self._version and not force:
                return
            self._version = version
            self._knowledge = None
            self._matcher = None
            self._composer = None
            self._router = None
            self._bindings = None

    def warm(self) -> None:
        """Build the index now (a long-running bot does this at start, so that its first
        question is not the one that waits)."""
        self.refresh()
        _ = self.composer, self.router

    @property
    def knowledge(self) -> Knowledge:
        """The active facts by topic, with their sources and topics."""
        with self._lock:
            if self._knowledge is None:
                with paused_gc():
                    self._knowledge = Knowledge.build(
                        self.store.facts(include_retracted=False),
                        self.store.sources(),
                        self.store.topics(),
                    )
            return self._knowledge

    @property
    def router(self) -> Router:
        """Each pack in use with its own language and index."""
        with self._lock:
            if self._router is None:
                knowledge = self.knowledge
                store = PackStore(self.store)
                packs = {p.id: p for p in store.packs(in_use=True)}
                resting = {p.id for p in store.packs()} - packs.keys()
                by_pack: dict[str, list[Fact]] = {}
                for fact in knowledge.facts.values():
                    by_pack.setdefault(pack_of(fact.topic), []).append(fact)
                indexes = {}
                with paused_gc():
                    for pid, facts in sorted(by_pack.items()):
                        if pid in resting:
                            continue  # retired, or bundled and no longer in the folder
                        # Facts written without a pack row (straight into the store) still
                        # answer, read with the general language.
                        packs.setdefault(pid, Pack(pid or "local", pid or "Local facts"))
                        language = pack_language(self.language, packs[pid])
                        matcher = Matcher.build(language, facts, knowledge.topics)
                        indexes[pid] = PackIndex.build(packs[pid], language, matcher)
                self._router = Router(indexes, self.config.default_pack)
            return self._router

    @property
    def matcher(self) -> Matcher:
        """The question index over every pack's active facts (one pack's own index when
        only one is in use)."""
        with self._lock:
            if self._matcher is None:
                indexes = self.router.indexes
                if len(indexes) == 1:
                    self._matcher = next(iter(indexes.values())).matcher
                else:
                    facts = [
                        f for i in indexes.values() for e in i.matcher.entries for f in [e.fact]
                    ]
                    with paused_gc():
                        self._matcher = Matcher.build(self.language, facts, self.knowledge.topics)
            return self._matcher

    @property
    def composer(self) -> Composer:
        with self._lock:
            if self._composer is None:
                self._composer = Composer(
                    self.knowledge,
                    min_confidence=self.config.min_confidence,
                    stale_days=self.config.stale_days,
                    today=self.today,
                )
            return self._composer

    # --- questions -----------------------------------------------------------------------

    def answer(self, text: str, pack: str | None = None) -> Answer:
        """Answer without logging: the pure path (tests, benchmarks, eval). `pack` is the
        dispute the asker is in (a channel's pack), if any."""
        composer = self.composer  # one snapshot for the whole answer
        router = self.router
        cleaned, problem = check_question(text)
        if problem:
            return composer.invalid(text if isinstance(text, str) else "", problem)
        readings = router.read(cleaned, pack)
        if not readings:
            return composer.refuse(cleaned)
        best = readings[0]
        language = router.indexes[best.pack].language
        if best.analysis.concepts and is_status_request(language, best.analysis):
            answer = self._status(router.scope(cleaned, pack))
            answer.question = cleaned
            return answer
        chosen = router.tied(readings, self.config.min_confidence)
        answers = [composer.answer(cleaned, r.analysis, r.matches) for r in chosen]
        if len(router.indexes) == 1:
            return answers[0]
        return composer.combine(answers, [router.indexes[r.pack].pack.name for r in chosen])

    def _status(self, packs: list[str]) -> Answer:
        """The latest picture of each of `packs`, labelled with its dispute when the bot
        answers for several."""
        composer = self.composer
        if len(self.router.indexes) <= 1:
            return composer.status(packs[0] if packs else None)
        names = [self.router.indexes[p].pack.name for p in packs]
        return composer.combine([composer.status(p) for p in packs], names)

    def language_for(self, pack: str | None) -> Language:
        """The language a pack's questions and articles are read with."""
        index = self.router.indexes.get(pack) if pack else None
        if index is not None:
            return index.language
        if pack:
            try:
                return pack_language(self.language, PackStore(self.store).pack(pack))
            except NotFound:
                pass
        return self.language

    def default_pack(self) -> str | None:
        """The dispute a change or question is about when nothing says: the configured
        default, else the only pack there is."""
        if self.config.default_pack:
            return self.config.default_pack
        packs = PackStore(self.store).packs()
        active = [p.id for p in packs if p.active]
        if len(active) == 1:
            return active[0]
        return None if packs else "local"

    def pack_for(self, question: Question) -> str | None:
        """The pack a chat question's channel is bound to, if any."""
        if question.channel is None:
            return None
        with self._lock:
            if self._bindings is None:
                self._bindings = PackStore(self.store).bindings()
            return self._bindings.get((question.platform, question.channel))

    def ask(self, question: Question) -> Answer:
        """Answer a question from a user and log it (without the user unless configured);
        one log line per question with its outcome and latency."""
        started = time.perf_counter()
        held = self.limits.admit(question)  # before any database work: floods cost nothing
        if held is not None:
            if held.kind != IGNORED:
                log_outcome(question, held, time.perf_counter() - started)
            return held
        self.refresh()
        key = conversation_key(question)
        answer, reading = self._in_conversation(question, self.conversations.last(key))
        self.conversations.remember(key, reading, answer)
        pointer = self.limits.repeat(question, answer, self._version)
        if pointer is not None:  # answered here a moment ago: not logged again
            answer = pointer
        elif answer.kind != "invalid":
            answer.log_id = self._log(answer, question)
        if answer.kind != IGNORED:
            log_outcome(question, answer, time.perf_counter() - started)
        return answer

    def _in_conversation(self, question: Question, previous: Turn | None) -> tuple[Answer, str]:
        """The answer to `question` and the question as read: with the conversation's
        previous question when it is a short follow-up ("and GM?", "what about year two?")
        that the previous question completes; "source?" gives the previous answer again
        with where it came from."""
        pack = self.pack_for(question)
        answer = self.answer(question.text, pack)
        if previous is None or answer.kind == "invalid":
            return answer, answer.question
        cleaned = clean(question.text)
        toks = tokens(cleaned)
        if self.language.asks_for_source(toks):
            sources = self.composer.sources_of(previous.answer, previous.question, cleaned)
            return sources, previous.question
        if len(toks) > FOLLOW_UP_WORDS:
            return answer, answer.question
        cue, rest = self.language.follow_up(toks)
        if answer.answered and not cue:
            return answer, answer.question
        reading = self._completed(previous.question, rest, pack)
        if reading is None:
            return answer, answer.question
        combined = self.answer(reading, pack)
        if combined.answered and (not answer.answered or combined.confidence > answer.confidence):
            combined.understood = f"“{reading}”"
            combined.text = render_plain(combined)
            combined.question = cleaned
            return combined, reading
        return answer, answer.question

    def _completed(self, before: str, words: list[str], pack: str | None) -> str | None:
        """The previous question with the follow-up's words in it: names the follow-up
        gives take the place of those the previous question named ("what is Ford
        offering?" + "and GM?" -> "what is GM offering?"); other words are added."""
        router = self.router
        ids = router.scope(before, pack)
        if not words or not ids:
            return None
        index = router.indexes[ids[0]]

        def is_name(word: str) -> bool:
            concepts = index.language.concepts([word])
            return bool(concepts) and concepts[0] in index.matcher.names

        named = [w for w in words if is_name(w)]
        others = [w for w in words if not is_name(w)]
        kept = tokens(before)
        places = [i for i, w in enumerate(kept) if is_name(w)]
        if named and places:
            kept = [*kept[: places[0]], *named, *(w for w in kept[places[0] :] if not is_name(w))]
        elif named:
            others = [*named, *others]
        return " ".join([*kept, *others])

    def admit(self, question: Question) -> Answer | None:
        """None when a request within the rates may go ahead (topics, sources, help from a
        chat; `ask` and `status` check by themselves), else the notice to give instead."""
        return self.limits.admit(question)

    def posted(
        self, answer: Answer, *, link: str | None = None, message: str | None = None
    ) -> None:
        """The adapter posted `answer` publicly at `link` (a URL) and/or as `message` (the
        platform's id for it): later repeats in that channel point there."""
        self.limits.posted(answer, link=link, message=message)

    def _log(self, answer: Answer, question: Question) -> int | None:
        """Log the question; a busy or read-only database costs the log entry, not the answer."""
        try:
            return self.store.log_question(
                answer.question,
                answer.answered,
                answer.confidence,
                answer.fact_ids,
                question.platform,
                question.user if self.config.store_user_ids else None,
            )
        except StoreError as exc:
            log.warning("question not logged: %s", exc)
            return None

    def status(self, question: Question | None = None, pack: str | None = None) -> Answer:
        """The latest picture (`/strike status [PACK]`) of `pack`, else of the channel's
        pack, else of the default pack, else of every pack; asked from a chat (`question`),
        within the limits, like `ask`."""
        if question is not None and (held := self.limits.admit(question)) is not None:
            return held
        self.refresh()
        router = self.router
        wanted = pack or (self.pack_for(question) if question is not None else None)
        if wanted is not None and wanted not in router.indexes:
            return self.composer.invalid(
                f"status {wanted}",
                f"There is no dispute called '{wanted}'. Known: "
                + (", ".join(sorted(router.indexes)) or "none")
                + ".",
            )
        answer = self._status(router.scope("", wanted))
        if question is not None:
            pointer = self.limits.repeat(question, answer, self._version)
            if pointer is not None:
                return pointer
        return answer

    def timeline(self, words: str, pack: str | None = None) -> Answer:
        """`/strike timeline TOPIC`: the facts of the topic `words` names (its id or label),
        oldest first, in `pack` (else the default pack, else any)."""
        self.refresh()
        composer = self.composer
        scope = pack or self.default_pack()
        topic = composer.find_topic(words, scope) or composer.find_topic(words)
        if topic is None:
            return composer.invalid(
                f"timeline {words}",
                f"I don't know a topic called '{words.strip()}'. Try `topics` for the list.",
            )
        return composer.timeline(topic)

    def topics(self) -> list[str]:
        """The labels of every topic with an active fact, status topics first."""
        self.refresh()
        return self.composer.topic_labels()

    def sources(self) -> list[Source]:
        self.refresh()
        used = {f.source for f in self.knowledge.facts.values()}
        return sorted(
            (s for s in self.knowledge.sources.values() if s.id in used),
            key=lambda s: (s.published, s.title),
            reverse=True,
        )

    def feedback(self, log_id: int, helpful: bool, platform: str, user: str | None) -> bool:
        """Record a Helpful / Not helpful vote on the answer logged as `log_id`.

        Returns False when that answer is unknown (for example purged by retention)."""
        entry = self.store.logged_question(log_id)
        if entry is None:
            return False
        self.store.record_feedback(
            entry["question"],
            entry["facts"],
            helpful,
            platform,
            user if self.config.store_user_ids else None,
        )
        return True
