"""strikebot benchmark: import time and ms per question, bundled and with synthetic facts.

Not a test: it prints figures. Run it on one core (see benchmarks/README.md):

    taskset -c 0 python benchmarks/bench.py [--sizes bundled,1000,10000,100000] [--questions N]

For every size it measures

* import: writing the facts into a fresh SQLite database through the store's real import path
  (`Store.import_knowledge`, one transaction; `StrikeBot.sync_bundled` at the bundled size),
* index: building the in-memory index (`StrikeBot.warm`: read the facts back, Knowledge and
  `Matcher.build`),
* ms per question through `StrikeBot.answer` (the in-process path, no logging) over the real
  question files and over paraphrased / misspelt questions of synthetic facts,
* the same texts (fact text + example questions) indexed and searched with bm25s, one query at
  a time (`bm25s.tokenize` + `retrieve(k=5)`), as a bot would.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s

from bot.core import composer as composer_module
from bot.core import matcher as matcher_module
from bot.core.evaluate import Case, judge, read_cases
from bot.core.models import Fact, Source, Topic
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store
from bot.store.knowledge_files import KnowledgeSet
from bot.store.pack_files import load_packs

REPO = Path(__file__).resolve().parent.parent
QUESTION_FILES = [
    REPO / "tests" / "data" / "questions_dev.jsonl",
    REPO / "tests" / "data" / "questions_holdout.jsonl",
    REPO.parent / "shared" / "eval" / "questions.jsonl",
]
TODAY = dt.date(2023, 9, 12)  # the day after the bundled article, as in the tests
FACTS_PER_TOPIC = 5
SOURCES = 300
WARMUP_SYNTHETIC = 50
CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.process_time_ns}
CLOCK_NS = CLOCKS["wall"]  # set by --clock


def clock() -> float:
    """Seconds on the clock chosen with --clock (wall time, or this process's CPU time)."""
    return CLOCK_NS() / 1e9


# --- a realistic vocabulary ---------------------------------------------------------------

# Everyday and news words, roughly most frequent first (the Zipf rank follows this order).
COMMON = """
the of and to a in for on that with said by as at from its was were has have had be will
would could after over about more than new not but also which their this it been they union
workers talks deal contract pay company strike members offer agreement percent year years
week weeks month months day days state city government council employees staff board leaders
vote votes voted plan proposal proposed negotiations negotiators management dispute wages
wage increase increases rise raise hours overtime pension pensions benefits healthcare health
insurance safety jobs job security shifts shift schedule schedules conditions training
leave sick holiday holidays bonus bonuses cuts cut costs cost budget budgets funding money
million billion thousand percent rate rates inflation living cost-of-living minimum maximum
average total annual monthly weekly hourly full-time part-time temporary permanent contracts
sector public private industry industries factory factories plant plants site sites office
offices hospital hospitals school schools teachers nurses doctors drivers pilots crews crew
engineers technicians cleaners porters dockers miners farmers workers' staffers employees'
retail warehouse warehouses port ports airport airports airline airlines railway railways
rail train trains bus buses transit transport network networks service services delivery
deliveries logistics supply chain chains energy power water gas oil utility utilities mail
postal telecom media studio studios newspaper newspapers broadcaster broadcasters stations
university universities college colleges students lecturers researchers council's mayor
minister ministry department agency agencies regulator court courts judge ruling rulings law
laws rule rules legal lawsuit claim claims complaint complaints tribunal arbitration
arbitrator mediator mediation conciliation ballot ballots turnout mandate majority
walkout walkouts picket pickets picketing lockout lockouts stoppage stoppages action
industrial demonstration demonstrations protest protests rally rallies march marches
spokesperson spokeswoman spokesman president chair chairman chairwoman director directors
secretary general chief executive executives officer officers manager managers employer
employers owner owners shareholders investors analysts economists residents customers
passengers patients parents families communities region regional national local federal
central northern southern eastern western coastal rural urban district districts county
counties province provinces capital harbour valley river bridge road roads line lines route
routes depot depots terminal terminals yard yards fleet fleets vehicle vehicles machines
equipment software system systems technology automation artificial intelligence data
records report reports review reviews study survey figures numbers estimate estimates
forecast growth losses loss profit profits revenue revenues sales prices price demand
demands request requests response responses statement statements letter letters meeting
meetings session sessions round rounds deadline deadlines extension timeline date dates
start end begin began ended continue continued resume resumed suspend suspended cancel
cancelled delay delayed postpone postponed reject rejected accept accepted approve approved
sign signed ratify ratified agree agreed refuse refused warn warned threaten threatened
announce announced confirm confirmed deny denied expect expected plan planned hope hoped
call called urge urged ask asked offer offered propose proposed demand demanded reach reached
return returned walk walked join joined leave left hold held meet met talk talked
significant major minor key main final initial latest previous first second third last next
early late higher lower better worse fair unfair reasonable unreasonable generous modest
strong weak long short full partial interim provisional tentative formal informal official
independent joint separate several many few most all every each both other another same
different current former future recent historic unprecedented ongoing indefinite rolling
nationwide statewide citywide sudden planned unplanned peaceful disruptive costly expensive
cheap affordable safe unsafe secure insecure stable unstable flexible rigid open closed
hiring layoffs layoff redundancies redundancy outsourcing subcontracting staffing levels
workload workloads burnout vacancies recruitment retention seniority grievance grievances
discipline dismissal dismissals reinstatement compensation allowance allowances expenses
uniforms equipment breaks rest meals travel mileage parking childcare housing relocation
remote hybrid telework commuting flexibility pay-scale scales grades grading classification
promotion promotions probation apprenticeships apprentices trainees interns volunteers
season seasonal summer winter spring autumn morning evening night weekend weekends
january february march april may june july august september october november december
"""

ISSUES = [
    "pensions", "overtime pay", "healthcare premiums", "staffing levels", "safety rules",
    "shift patterns", "pay scales", "remote work", "automation", "job security",
    "training budgets", "sick leave", "bonuses", "contract length", "night shifts",
    "weekend rates", "outsourcing", "seniority rules", "workload", "break times",
    "uniform allowances", "travel expenses", "childcare support", "housing allowances",
    "redundancy terms", "recruitment freezes", "grading reviews", "apprenticeships",
    "heat protections", "surveillance software", "scheduling apps", "parking fees",
    "holiday pay", "cost-of-living payments", "minimum staffing", "temporary contracts",
    "subcontracting", "retirement age", "meal breaks", "equipment upgrades",
]  # fmt: skip
ORG_KINDS = [
    "Workers Union", "Transport Union", "Nurses Association", "Teachers Federation",
    "Dockworkers Guild", "Drivers Alliance", "Council", "Transit Authority", "Holdings",
    "Logistics", "Health Trust", "Airlines", "Rail", "Energy", "Media Group", "University",
    "Port Authority", "Postal Service", "Manufacturing", "Retail Group",
]  # fmt: skip
TITLES = [
    "president", "general secretary", "chief negotiator", "spokesperson", "chief executive",
    "regional organiser", "head of people", "chair", "lead steward", "labour relations director",
]  # fmt: skip
OUTLETS = ["the Courier", "the Gazette", "Radio North", "the Ledger", "Channel 9", "the Herald"]
PUBLISHERS = ["Courier", "Gazette", "Ledger", "Herald", "Wire Service", "Labour Weekly", None]

ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "pr",
          "r", "s", "st", "t", "tr", "v", "w", "z", "sk", "th"]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "x"]

TEXT_FRAMES = [
    "As of {date}, {org} said talks with {org2} over {issue} had {verb} after {n} days, and "
    "{person} called the latest offer {adj}.",
    "{org} offered a {pct} increase tied to {issue} over {n3} years, which {org2} {verb} as "
    "{adj} on {date}.",
    "{person}, {title} of {org}, told {outlet} that {issue} in {place} remained the main "
    "sticking point.",
    "Members of {org} in {place} voted {pct} in favour of a strike over {issue} on {date}.",
    "{org2} said changes to {issue} would cost {money} a year and that it {verb} the plan put "
    "forward by {org}.",
    "On {date}, {org} and {org2} agreed to review {issue} for about {num} staff in {place}.",
    "The dispute between {org} and {org2} over {issue} began on {date} and affects roughly "
    "{num} workers across {place}.",
    "{org} wants {issue} written into the contract, while {org2} has {verb} anything beyond "
    "a {pct} rise.",
]
QUESTION_FRAMES = [
    "what did {short} say about {issue}",
    "how much did {short} offer on {issue}",
    "{issue} at {short}?",
    "who is {person}",
    "what is the latest on {issue} in {place}",
    "is {short} still in talks with {short2}",
    "what happened with {short} and {issue}",
    "how many workers does the {short} {issue} dispute affect",
    "did {short2} accept the {issue} deal",
    "what does {short} want on {issue}",
]
VERBS = [
    "stalled",
    "collapsed",
    "resumed",
    "rejected",
    "accepted",
    "welcomed",
    "dismissed",
    "paused",
    "broken down",
    "moved forward",
    "criticised",
    "questioned",
]
ADJECTIVES = [
    "insulting",
    "reasonable",
    "a step forward",
    "inadequate",
    "generous",
    "unworkable",
    "fair",
    "disappointing",
    "promising",
    "too little too late",
]
FILLERS = ["hey", "so", "quick q", "any idea", "pls", "um", "btw", "yo"]


@dataclass(slots=True)
class Vocabulary:
    words: list[str]
    cum_weights: list[float]
    names: list[str]  # capitalised pseudo-words for organisations, people and places

    def sample(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=k)


def build_vocabulary(rng: random.Random, pseudo_words: int = 2500) -> Vocabulary:
    """A few thousand distinct words with a Zipf-like frequency: real words, then pseudo-words
    (jargon and place names) built from syllables."""
    common = list(dict.fromkeys(COMMON.split()))
    pseudo: set[str] = set()
    while len(pseudo) < pseudo_words:
        syllables = rng.choice((2, 2, 3))
        word = "".join(
            rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
        )
        if 4 <= len(word) <= 10:
            pseudo.add(word)
    pseudo_list = sorted(pseudo)
    rng.shuffle(pseudo_list)
    split = len(pseudo_list) // 2
    words = common + pseudo_list[:split]
    total, cum = 0.0, []
    for rank in range(len(words)):
        total += 1.0 / (rank + 20)
        cum.append(total)
    names = [w.capitalize() for w in pseudo_list[split:]]
    return Vocabulary(words, cum, names)


# --- synthetic knowledge ------------------------------------------------------------------


@dataclass(slots=True)
class Synthetic:
    knowledge: KnowledgeSet
    topics: list[Topic]
    questions: list[tuple[str, str]] = field(default_factory=list)  # (question, topic id)
    warmup: list[tuple[str, str]] = field(default_factory=list)


def _date(rng: random.Random, start: dt.date = dt.date(2021, 1, 1), span: int = 1400) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(span))


def _human(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:  # swap neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1 :]
    if kind == 2:  # double a letter
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustrnl") + word[i + 1 :]  # wrong letter


def paraphrase(rng: random.Random, question: str) -> str:
    """A chat-style variant: filler, dropped question words, shuffled order, typos."""
    words = question.rstrip("?").split()
    if len(words) > 3 and rng.random() < 0.4 and words[0] in ("what", "how", "is", "did", "who"):
        words = words[1:]
    if len(words) > 3 and rng.random() < 0.3:
        cut = rng.randrange(1, len(words) - 1)
        words = words[cut:] + words[:cut]
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    for i in rng.sample(long_words, min(len(long_words), rng.choice((0, 1, 1, 2)))):
        words[i] = _typo(rng, words[i])
    if rng.random() < 0.3:
        words.insert(0, rng.choice(FILLERS))
    text = " ".join(words)
    return text + rng.choice(("", "?", "??", " ?"))


def synthesize(size: int, seed: int, n_questions: int) -> Synthetic:
    """`size` deterministic synthetic facts (about FACTS_PER_TOPIC a topic), with sources,
    topics and paraphrased questions for `n_questions` of them."""
    rng = random.Random(seed)
    vocab = build_vocabulary(rng)
    names = vocab.names
    sources = []
    for i in range(min(SOURCES, size)):
        published = _date(rng)
        publisher = rng.choice(PUBLISHERS)
        sources.append(
            Source(
                id=f"syn-src-{i:04d}",
                title=" ".join(vocab.sample(rng, rng.randint(5, 10))).capitalize(),
                published=published,
                url=f"https://news.example.org/{published.isoformat()}/{i}" if publisher else None,
                publisher=publisher,
            )
        )
    facts: list[Fact] = []
    topics: list[Topic] = []
    while len(facts) < size:
        n_topic = len(topics)
        org_name, org2_name, place = rng.sample(names, 3)
        issue = rng.choice(ISSUES)
        org = f"{org_name} {rng.choice(ORG_KINDS)}"
        org2 = f"{org2_name} {rng.choice(ORG_KINDS)}"
        topic_id = f"syn.{org_name.lower()}-{n_topic:06d}"
        topics.append(
            Topic(topic_id, f"{org_name}: {issue} in {place}", f"{org} and {org2} on {issue}.")
        )
        person = f"{rng.choice(names)} {rng.choice(names)}"
        for _ in range(min(rng.randint(1, 2 * FACTS_PER_TOPIC - 1), size - len(facts))):
            as_of = _date(rng)
            slots = {
                "org": org,
                "org2": org2,
                "short": org_name.lower(),
                "short2": org2_name.lower(),
                "issue": issue,
                "place": place,
                "person": person,
                "title": rng.choice(TITLES),
                "outlet": rng.choice(OUTLETS),
                "date": _human(as_of),
                "verb": rng.choice(VERBS),
                "adj": rng.choice(ADJECTIVES),
                "n": str(rng.randint(3, 200)),
                "n3": str(rng.randint(2, 5)),
                "num": f"{rng.randint(80, 40_000):,}",
                "pct": f"{rng.randint(1, 19)}.{rng.choice('05')}%",
                "money": f"${rng.randint(2, 900)} million",
            }
            text = rng.choice(TEXT_FRAMES).format(**slots)
            target = rng.randint(15, 35)
            words = text.split()
            if len(words) < target:
                extra = vocab.sample(rng, target - len(words))
                text += " " + " ".join(extra).capitalize() + "."
            elif len(words) > 35:
                text = " ".join(words[:35]).rstrip(",.") + "."
            frames = rng.sample(QUESTION_FRAMES, rng.randint(2, 4))
            source = rng.choice(sources)
            fid = f"syn-{len(facts):06d}"
            facts.append(
                Fact(
                    id=fid,
                    text=text,
                    topic=topic_id,
                    as_of=as_of,
                    source=source.id,
                    questions=tuple(f.format(**slots) for f in frames),
                    keywords=(org_name.lower(), issue.split()[0]),
                )
            )
    picks = rng.sample(range(len(facts)), min(len(facts), n_questions + WARMUP_SYNTHETIC))
    asked = [(paraphrase(rng, rng.choice(facts[i].questions)), facts[i].topic) for i in picks]
    return Synthetic(
        KnowledgeSet(sources=sources, facts=facts),
        topics,
        questions=asked[WARMUP_SYNTHETIC:],
        warmup=asked[:WARMUP_SYNTHETIC],
    )


# --- measuring ----------------------------------------------------------------------------


@dataclass(slots=True)
class Latency:
    times_ms: list[float]
    first_pass_ms: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times_ms) if self.times_ms else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")

    @property
    def p95(self) -> float:
        if not self.times_ms:
            return float("nan")
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def first_mean(self) -> float:
        return statistics.fmean(self.first_pass_ms) if self.first_pass_ms else float("nan")

    def line(self) -> str:
        return f"mean {self.mean:.3f}  median {self.median:.3f}  p95 {self.p95:.3f} ms"


def time_each(fn: Callable[[str], object], questions: list[str]) -> tuple[list[float], list]:
    results, times = [], []
    clock = CLOCK_NS
    for q in questions:
        t0 = clock()
        result = fn(q)
        times.append((clock() - t0) / 1e6)
        results.append(result)
    return times, results


def measure(fn: Callable[[str], object], questions: list[str], warmup: list[str] | None = None):
    """A warm-up pass (timed separately as the first pass), then the timed pass."""
    first, _ = time_each(fn, warmup if warmup is not None else questions)
    gc.collect()
    times, results = time_each(fn, questions)
    return Latency(times, first), results


@dataclass(slots=True)
class Row:
    label: str
    facts: int = 0
    import_s: float = float("nan")
    index_s: float = float("nan")
    real: Latency | None = None
    real_answered: str = ""
    real_passed: str = ""
    synthetic: Latency | None = None
    synthetic_right: str = ""
    bm25_index_s: float = float("nan")
    bm25_real: Latency | None = None
    bm25_synthetic: Latency | None = None
    bm25_synthetic_top1: str = ""


class StepTimer:
    """Times the calls the bot makes while it refreshes, without touching the core: wraps
    `Store.facts`, `Knowledge.build` and `Matcher.build` for the duration of a `with`."""

    def __init__(self, store: Store):
        self.store = store
        self.seconds: dict[str, float] = {}

    def _wrap(self, name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + clock() - t0

        return wrapper

    def __enter__(self) -> StepTimer:
        # the classmethod descriptors themselves, so that __exit__ restores them exactly
        self._saved = []
        for name, owner in (("Knowledge", composer_module), ("Matcher", matcher_module)):
            cls = getattr(owner, name, None)
            if cls is not None and "build" in vars(cls):
                self._saved.append((cls, vars(cls)["build"]))
                cls.build = self._wrap(f"{name}.build", cls.build)
        self.store.facts = self._wrap("read facts", self.store.facts)  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc) -> None:
        for cls, descriptor in self._saved:
            cls.build = descriptor
        del self.store.facts

    def detail(self) -> str:
        return ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items())


def profiled(enabled: bool, label: str, fn: Callable[[], object], top: int = 18):
    if not enabled:
        return fn()
    profile = cProfile.Profile()
    result = profile.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n--- cProfile: {label} ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
    return result


def common_concepts(bot: StrikeBot, top: int = 6) -> str:
    """The concepts with the longest posting lists, as a share of the indexed facts: how
    concentrated the vocabulary is (the pre-filter walks these lists)."""
    postings = getattr(bot.matcher, "postings", {})
    n = max(len(bot.matcher), 1)
    ranked = sorted(postings.items(), key=lambda item: len(item[1]), reverse=True)[:top]
    return ", ".join(f"{c} {len(ids) / n:.0%}" for c, ids in ranked)


def slowest(bot: StrikeBot, questions: list[str], times_ms: list[float], top: int = 6) -> None:
    """The slowest questions with the posting-list length of each of their concepts."""
    print(f"\n--- slowest {top} questions ---")
    postings = getattr(bot.matcher, "postings", {})
    for ms, q in sorted(zip(times_ms, questions, strict=True), reverse=True)[:top]:
        try:
            weights = bot.matcher.analyse(q).weights
        except Exception:  # the matcher's internals may change; this is only a diagnosis
            weights = {}
        lists = ", ".join(f"{c}:{len(postings.get(c, ())):,}" for c in weights)
        print(f"  {ms:7.2f} ms  {q!r}  postings {lists}")


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in QUESTION_FILES:
        if path.exists():
            cases.extend(read_cases(path))
            print(f"  questions: {path} ({len(read_cases(path))})")
        else:
            print(f"  questions: {path} not found, skipped")
    return cases


def score_real(cases: list[Case], answers: list) -> tuple[str, str]:
    answerable = [(c, a) for c, a in zip(cases, answers, strict=True) if c.answerable]
    answered = sum(1 for _, a in answerable if a.answered)
    passed = sum(1 for c, a in zip(cases, answers, strict=True) if judge(c, a) is None)
    return f"{answered}/{len(answerable)}", f"{passed}/{len(cases)}"


def bm25_corpus(facts: Iterable[Fact]) -> list[str]:
    return [" ".join((f.text, *f.questions)) for f in facts]


def run_bm25(
    row: Row,
    facts: list[Fact],
    real: list[str],
    synthetic: list[tuple[str, str]],
    warmup: list[str],
) -> None:
    corpus = bm25_corpus(facts)
    t0 = clock()
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False
    )
    row.bm25_index_s = clock() - t0

    def search(q: str):
        tokens = bm25s.tokenize(q, stopwords="en", show_progress=False)
        return retriever.retrieve(tokens, k=5, show_progress=False)

    row.bm25_real, _ = measure(search, real)
    print(f"  bm25s     real questions:      {row.bm25_real.line()}")
    if synthetic:
        row.bm25_synthetic, results = measure(search, [q for q, _ in synthetic], warmup)
        top1 = sum(
            1
            for (_, topic), res in zip(synthetic, results, strict=True)
            if facts[int(res.documents[0][0])].topic == topic
        )
        row.bm25_synthetic_top1 = f"{top1}/{len(synthetic)}"
        print(
            f"  bm25s     synthetic questions: {row.bm25_synthetic.line()}  "
            f"(top hit on the right topic {row.bm25_synthetic_top1})"
        )


# --- one size -----------------------------------------------------------------------------


def bench_size(size: int | None, args, cases: list[Case], tmp: Path) -> Row:
    label = "bundled" if size is None else f"{size:,}"
    print(f"\n== {label} {'' if size is None else 'synthetic facts + bundled '}==", flush=True)
    config = BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)
    store = Store(tmp / f"bench-{label.replace(',', '')}.db")
    row = Row(label)
    [wga] = load_packs(BUNDLED_KNOWLEDGE)
    bundled, bundled_topics = wga.knowledge, wga.topics
    synthetic: Synthetic | None = None
    profile_here = args.profile and size == max(s or 0 for s in args.sizes)
    if size is None:
        bot = StrikeBot(store, config, today=lambda: TODAY, sync_bundled=False)
        t0 = clock()
        bot.sync_bundled()  # parse the YAML files and write them (the bundled import path)
        row.import_s = clock() - t0
    else:
        t0 = time.perf_counter()
        synthetic = synthesize(size, args.seed, args.questions)
        made = time.perf_counter() - t0
        knowledge = KnowledgeSet(
            sources=[*bundled.sources, *synthetic.knowledge.sources],
            facts=[*bundled.facts, *synthetic.knowledge.facts],
        )
        print(
            f"  generated {size:,} facts on {len(synthetic.topics):,} topics from "
            f"{len(synthetic.knowledge.sources)} sources in {made:.1f} s (not counted)"
        )
        t0 = clock()
        profiled(
            profile_here,
            f"Store.import_knowledge ({label})",
            lambda: store.import_knowledge(
                knowledge, actor="bench", topics=[*bundled_topics, *synthetic.topics]
            ),
        )
        row.import_s = clock() - t0
        del knowledge
    t0 = clock()
    with StepTimer(store) as steps:
        if size is None:
            bot.refresh(force=True)
        else:
            bot = profiled(
                profile_here,
                f"StrikeBot refresh ({label})",
                lambda: StrikeBot(store, config, today=lambda: TODAY, sync_bundled=False),
            )
        bot.warm()  # the index is built lazily: build it inside the timed block
    row.index_s = clock() - t0
    row.facts = len(bot.matcher)
    print(f"  import (write to SQLite):      {row.import_s:8.2f} s")
    print(f"  index (refresh, in memory):    {row.index_s:8.2f} s  ({steps.detail()})")
    print(
        f"  import + index:                {row.import_s + row.index_s:8.2f} s"
        f"  for {row.facts:,} active facts"
    )

    print(f"  commonest concepts (share of facts): {common_concepts(bot)}")

    real = [c.question for c in cases]
    if real:
        row.real, answers = measure(bot.answer, real)
        row.real_answered, row.real_passed = score_real(cases, answers)
        print(
            f"  strikebot real questions:      {row.real.line()}  "
            f"(first pass mean {row.real.first_mean:.3f} ms; answered {row.real_answered} "
            f"answerable, passed {row.real_passed})"
        )
        if profile_here:
            slowest(bot, real, row.real.times_ms)
            profiled(
                True,
                f"StrikeBot.answer x{len(real)} real questions ({label})",
                lambda: [bot.answer(q) for q in real],
            )
    if synthetic is not None and synthetic.questions:
        asked = [q for q, _ in synthetic.questions]
        row.synthetic, answers = measure(bot.answer, asked, warmup=[q for q, _ in synthetic.warmup])
        right = sum(
            1
            for (_, topic), a in zip(synthetic.questions, answers, strict=True)
            if a.answered and a.statements and a.statements[0].fact.topic == topic
        )
        answered = sum(1 for a in answers if a.answered)
        row.synthetic_right = f"{right}/{len(asked)}"
        print(
            f"  strikebot synthetic questions: {row.synthetic.line()}  "
            f"(answered {answered}/{len(asked)}, right topic {row.synthetic_right})"
        )
        if profile_here:
            profiled(
                True,
                f"StrikeBot.answer x{len(asked)} synthetic questions ({label})",
                lambda: [bot.answer(q) for q in asked],
            )
    facts = list(bot.knowledge.facts.values())
    run_bm25(
        row,
        facts,
        real,
        synthetic.questions if synthetic else [],
        [q for q, _ in synthetic.warmup] if synthetic else [],
    )
    store.close()
    return row


# --- output -------------------------------------------------------------------------------


def _ms(lat: Latency | None, attr: str = "mean") -> str:
    return f"{getattr(lat, attr):.3f}" if lat else "-"


def print_table(rows: list[Row]) -> None:
    header = [
        "size",
        "facts",
        "import s",
        "index s",
        "total s",
        "bm25 idx s",
        "real ms mean/p95",
        "bm25 ms",
        "synth ms mean/p95",
        "bm25 ms",
        "real answered",
        "real passed",
        "synth right",
    ]
    table = [header]
    for r in rows:
        table.append(
            [
                r.label,
                f"{r.facts:,}",
                f"{r.import_s:.2f}",
                f"{r.index_s:.2f}",
                f"{r.import_s + r.index_s:.2f}",
                f"{r.bm25_index_s:.2f}",
                f"{_ms(r.real)}/{_ms(r.real, 'p95')}",
                _ms(r.bm25_real),
                f"{_ms(r.synthetic)}/{_ms(r.synthetic, 'p95')}" if r.synthetic else "-",
                _ms(r.bm25_synthetic),
                r.real_answered or "-",
                r.real_passed or "-",
                r.synthetic_right or "-",
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print("\n== summary (ms per question after a warm-up pass; import/index in seconds) ==")
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in rows:
        parts = [f"{r.label}: strikebot {_ms(r.real)} ms vs bm25s {_ms(r.bm25_real)} ms (real)"]
        if r.synthetic:
            parts.append(f"{_ms(r.synthetic)} ms vs {_ms(r.bm25_synthetic)} ms (synthetic)")
        print("  " + "; ".join(parts))


def load() -> str:
    """The 1/5/15-minute load average: other work on the machine skews wall times."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def parse_sizes(text: str) -> list[int | None]:
    sizes: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "bundled":
            sizes.append(None)
        elif part.endswith("k"):
            sizes.append(int(float(part[:-1]) * 1000))
        else:
            sizes.append(int(part.replace("_", "")))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="bundled,1000,10000,100000",
        help="comma-separated: bundled and/or numbers of synthetic facts",
    )
    parser.add_argument(
        "--questions",
        type=int,
        default=200,
        help="synthetic questions timed per size (default 200)",
    )
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default), or this process's CPU time when the machine is busy",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the import, refresh and answers at the largest size",
    )
    args = parser.parse_args(argv)
    args.sizes = parse_sizes(args.sizes)
    global CLOCK_NS
    CLOCK_NS = CLOCKS[args.clock]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(
        f"strikebot benchmark - Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, running on CPUs {cpus or '?'}"
    )
    if len(cpus) > 1:
        print("  note: not pinned; run under `taskset -c 0` for one-core figures")
    print(f"  clock: {args.clock} time; load average {load()}")
    started = time.perf_counter()
    cases = load_cases()
    rows = []
    with tempfile.TemporaryDirectory(prefix="strikebot-bench-") as tmp:
        for size in args.sizes:
            rows.append(bench_size(size, args, cases, Path(tmp)))
            gc.collect()
    print_table(rows)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s; load average {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
