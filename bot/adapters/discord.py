"""The Discord adapter: slash commands, mentions and DMs, feedback buttons and admin commands
(facts, articles and their review queue, due facts, the report), translated to and from the
core. No answer logic and no SQL here: the core answers and
checks permissions, `bot.render.discord_embeds` lays answers out.

Entry points: `run_discord(settings, bot)` (the `strikebot discord` command) and
`build_client(settings, bot, admin)` (also used by the tests against a fake Discord)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.core.admin import (
    Actor,
    AdminInputError,
    AdminService,
    PermissionDenied,
    check_topic,
)
from bot.core.due import days_overdue, due_facts
from bot.core.limits import IGNORED
from bot.core.models import Answer, Fact, Question
from bot.core.pack_admin import PackAdmin
from bot.core.packs import local
from bot.core.permissions import discord_is_admin
from bot.core.report import Report, ReportService
from bot.core.review import MAX_REASON, ReviewItem, ReviewService
from bot.core.service import MAX_QUESTION_CHARS, StrikeBot
from bot.core.suggest import known_questions, suggest_questions
from bot.core.updates import (
    Deliverer,
    Delivery,
    StatusUpdates,
    Subscription,
    SubscriptionService,
)
from bot.render import discord_embeds as render
from bot.render.status_updates import discord_update_embed
from bot.runtime.supervisor import (
    CONNECTED,
    STOPPING,
    PlatformConfigError,
    PlatformError,
    PlatformState,
    install_stop_signals,
)
from bot.settings import Settings
from bot.store.db import NotFound, StoreError
from bot.store.knowledge_files import MAX_TEXT
from bot.store.review_queue import PENDING, closed_reason

log = logging.getLogger(__name__)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = (
    "Sorry, something went wrong on my side while handling that. It has been logged; "
    "please try again in a moment."
)
BAD_TOPIC = "The topic must be short lowercase words joined by dots, e.g. offer.pay."
STORE_TROUBLE = "The bot's database is busy or unavailable right now; please try again shortly."
GUILD_CHANNELS_ONLY = "Run this in the server channel that should get the updates."
FEEDBACK_ID = re.compile(r"strikebot:fb:(?P<log_id>[0-9]{1,18}):(?P<helpful>[01])")
REVIEW_ID = re.compile(r"strikebot:rv:(?P<action>accept|reject):(?P<candidate>[0-9]{1,18})")
TEXT_INPUT_MAX = 4000  # Discord's cap for one text input in a modal
MAX_ARTICLE_BYTES = 1_000_000  # an attached .txt article; the core caps the text itself
REVIEW_COUNT_UP_TO = 200  # pending candidates read to say how many are waiting
MAX_REMEMBERED_VOTES = 10_000
DELIVERY_STOP_TIMEOUT_S = 10.0
UNAVAILABLE_RETRIES = 2  # a 503 from the REST API is tried again twice
COMMANDS_HASH_KEY = "discord_commands_sha256"  # in the meta table, per guild or "global"

T = TypeVar("T")
C = TypeVar("C", bound=discord.Client)


# --- endpoints ------------------------------------------------------------------------


def endpoint_problem(api_url: str, gateway_url: str) -> str | None:
    """Why DISCORD_API_URL or DISCORD_GATEWAY_URL cannot be used, or None."""
    if not re.match(r"^https?://[^\s/]+", api_url or ""):
        return f"DISCORD_API_URL must be an http(s) URL, not {api_url!r}"
    if not re.match(r"^wss?://[^\s/]+", gateway_url or ""):
        return f"DISCORD_GATEWAY_URL must be a ws(s) URL, not {gateway_url!r}"
    return None


def use_endpoints(api_url: str, gateway_url: str) -> None:
    """Point discord.py at a REST base and a gateway (for a proxy, or a fake in tests).

    discord.py has no public option for either, so this sets the two class attributes it
    reads: `Route.BASE` (every REST route, webhooks and interaction callbacks included) and
    `DiscordWebSocket.DEFAULT_GATEWAY` (the gateway `Client.connect` and fixed-count sharding
    dial, and the one it falls back to after an invalidated session). `AutoShardedClient`
    asks `GET /gateway/bot` for its URL instead; `build_client` overrides that answer.
    Process-wide: one Discord configuration per process."""
    Route.BASE = api_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def _pin_bot_gateway(http: discord.http.HTTPClient, gateway_url: str) -> None:
    """Make `GET /gateway/bot` report our gateway URL (keeping its shard count)."""
    original = http.get_bot_gateway

    async def get_bot_gateway() -> tuple[int, str, Any]:
        shards, _url, limits = await original()
        return shards, gateway_url, limits

    http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]


def _retry_unavailable(client: C, retries: int = UNAVAILABLE_RETRIES) -> C:
    """Retry a 503 on the REST API as discord.py retries a 500, 502 or 504 (after 1 s, then
    3 s). discord.py's webhook and interaction calls already retry every 5xx, but its main
    HTTP client (channel messages: mention replies and status updates) gives up on a 503,
    which Discord's edge answers while an API node is down."""
    http = client.http
    original = http.request

    async def request(route: Route, **kwargs: Any) -> Any:
        for attempt in range(retries + 1):
            try:
                return await original(route, **kwargs)
            except discord.DiscordServerError as exc:
                if exc.status != 503 or attempt == retries:
                    raise
            delay = 1 + attempt * 2
            log.warning("%s %s answered 503; retrying in %d s", route.method, route.path, delay)
            for file in kwargs.get("files") or ():
                file.reset(seek=True)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    http.request = request  # type: ignore[method-assign]
    return client


def parse_shards(value: str) -> int | str | None:
    """DISCORD_SHARDS: '' (one connection), 'auto' (Discord's count) or a number."""
    value = (value or "").strip().lower()
    if not value:
        return None
    if value == "auto":
        return "auto"
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise ValueError(f"DISCORD_SHARDS must be empty, 'auto' or a number, not {value!r}")


# --- pure helpers ---------------------------------------------------------------------


def question_from_message(
    content: str, bot_id: int, *, addressed: bool, role_id: int | None = None
) -> str | None:
    """The question in a message that mentions the bot (or a DM): the text without the
    bot's mention. None when the message is not for the bot."""
    if not addressed:
        return None
    tags = [rf"<@!?{bot_id}>"] + ([rf"<@&{role_id}>"] if role_id else [])
    text = re.sub("|".join(tags), " ", content or "")
    return " ".join(text.split()).strip(" ,:")


def embed(data: dict[str, Any]) -> discord.Embed:
    """A discord.Embed from the renderer's dict."""
    return discord.Embed.from_dict(data)


def explain(exc: BaseException) -> str | None:
    """The user-facing message for an error the core raises on purpose, else None."""
    if isinstance(exc, PermissionDenied | AdminInputError):
        return str(exc)
    if isinstance(exc, NotFound):
        return f"Not found: {exc}"
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return STORE_TROUBLE
    return None


class VoteMemory:
    """Who already rated which answer in this process, so one click counts once."""

    def __init__(self, capacity: int = MAX_REMEMBERED_VOTES):
        self.capacity = capacity
        self._seen: OrderedDict[tuple[int, str], None] = OrderedDict()

    def first_vote(self, log_id: int, user_id: str) -> bool:
        key = (log_id, user_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def forget(self, log_id: int, user_id: str) -> None:
        self._seen.pop((log_id, user_id), None)


# --- the adapter's state --------------------------------------------------------------


class Frontend:
    """What the Discord handlers share: settings, the core, and a one-thread executor so the
    core's (blocking, SQLite) calls never stall the event loop and never overlap."""

    def __init__(self, settings: Settings, bot: StrikeBot, admin: AdminService):
        self.settings = settings
        self.bot = bot
        self.admin = admin
        self.votes = VoteMemory()
        self.subscriptions = SubscriptionService(bot.store)
        self.review = ReviewService(bot, admin)
        self.reports = ReportService(bot, admin)
        self.packs = PackAdmin(admin)
        self.deliverer = Deliverer(bot.store)
        StatusUpdates.attach(admin)  # admin changes here queue status updates
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strikebot-discord")
        self._questions_for: object = None
        self._questions: list[str] = []

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a core call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def question(
        text: str, user: int, channel: int | None, *, private: bool = False, command: bool = False
    ) -> Question:
        """What the core is asked: `channel` None in a DM, `private` for an ephemeral reply,
        `command` for a slash command (which always gets a reply)."""
        where = str(channel) if channel else None
        return Question(text, PLATFORM, str(user), where, private=private, command=command)

    async def ask(
        self,
        text: str,
        user: int,
        channel: int | None,
        *,
        private: bool = False,
        command: bool = False,
    ) -> Answer:
        """Answer and log a question from a Discord user, within the core's limits."""
        question = self.question(text, user, channel, private=private, command=command)
        return await self.run(self.bot.ask, question)

    async def status(
        self, user: int, channel: int | None, *, command: bool = False, pack: str | None = None
    ) -> Answer:
        """The latest picture (of `pack`, else the channel's dispute) for a Discord user,
        within the core's limits."""
        question = self.question("status", user, channel, command=command)
        return await self.run(self.bot.status, question, pack)

    async def timeline(self, topic: str, user: int, channel: int | None) -> Answer:
        """A topic's facts in date order, within the core's limits."""
        question = self.question(f"timeline {topic}", user, channel, command=True)

        def work() -> Answer:
            held = self.bot.admit(question)
            return held or self.bot.timeline(topic, self.bot.pack_for(question))

        return await self.run(work)

    def channel_pack(self, actor: Actor, channel: int | None, pack: str | None) -> str:
        """`/strike-admin pack [id]`: bind this channel to a dispute, or say which it is."""
        return self.packs.channel_pack(actor, PLATFORM, str(channel) if channel else None, pack)

    async def admit(self, text: str, user: int, channel: int | None) -> Answer | None:
        """None when topics, sources or help may be shown, else the notice to give."""
        return await self.run(self.bot.admit, self.question(text, user, channel))

    def suggestions(self, typed: str) -> list[str]:
        """Known questions close to what is typed (in memory: autocomplete must be fast)."""
        knowledge = self.bot.knowledge
        if knowledge is not self._questions_for:
            self._questions = known_questions(
                knowledge.facts.values(), first_topics=knowledge.status_topics()
            )
            self._questions_for = knowledge
        return suggest_questions(self._questions, typed, limit=25, max_chars=100)

    def actor(self, interaction: discord.Interaction) -> Actor:
        """The user as an admin actor; the verdict comes from core permissions, fresh on
        every call (a guild can change who may use the admin commands at any time)."""
        user = interaction.user
        member = user if isinstance(user, discord.Member) else None
        perms = interaction.permissions
        roles = [r for r in member.roles if not r.is_default()] if member else []
        is_admin = discord_is_admin(
            in_guild=interaction.guild_id is not None and member is not None,
            manage_guild=perms.manage_guild,
            administrator=perms.administrator,
            role_names=[r.name for r in roles],
            role_ids=[r.id for r in roles],
            admin_role=self.settings.discord_admin_role,
        )
        return Actor(str(user.id), PLATFORM, is_admin, name=str(user))

    def subscription_list(self, actor: Actor) -> list[Subscription]:
        """Every subscribed channel with the updates it did not get; for admins."""
        self.admin.require(actor)
        return self.subscriptions.list()

    def due(self, actor: Actor) -> tuple[dt.date, list[tuple[Fact, int]]]:
        """Active facts past their review-by date (as `strikebot facts due`), with the days
        each is overdue; for admins."""
        self.admin.require(actor)
        today = self.bot.today()
        facts = due_facts(self.bot.store.facts(include_retracted=False), today)
        return today, [(f, days_overdue(f, today)) for f in facts]

    def refusal(self, command: str = "/strike-admin") -> str:
        role = self.settings.discord_admin_role.strip()
        who = "people with the Manage Server permission"
        if role:
            who += f" or the `{render.neutralise(role)}` role"
        return f"Sorry, only {who} can use `{command}` here."


# --- sending --------------------------------------------------------------------------


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now (Discord allows 3 s) and show 'thinking…'; remember ephemerality."""
    interaction.extras["ephemeral"] = ephemeral
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)


async def send(interaction: discord.Interaction, *, ephemeral: bool, **kwargs: Any) -> None:
    """Reply to an interaction, as the first response or as a follow-up; never pings."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        interaction.extras["ephemeral"] = ephemeral
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


async def tell_privately(interaction: discord.Interaction, text: str) -> None:
    """A short ephemeral message, whatever state the interaction is in. A public
    'thinking…' placeholder is removed first so the message really is private."""
    try:
        if interaction.response.is_done() and not interaction.extras.get("ephemeral", True):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("could not delete the public placeholder", exc_info=True)
        await send(interaction, ephemeral=True, content=render.plain_message(text))
    except discord.HTTPException:
        log.warning("could not send a private reply on Discord: %s", text, exc_info=True)


def feedback_view(answer: Answer) -> discord.ui.View | None:
    """Helpful / Not helpful buttons for a logged answer; None for unlogged replies."""
    if answer.log_id is None or answer.kind == "invalid":
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton(answer.log_id, True))
    view.add_item(FeedbackButton(answer.log_id, False))
    return view


def _guild_channel(interaction: discord.Interaction) -> int | None:
    """The channel for the core's limits: None in a DM."""
    return interaction.channel_id if interaction.guild_id is not None else None


async def post_answer(
    frontend: Frontend, interaction: discord.Interaction, answer: Answer, *, ephemeral: bool
) -> None:
    """Follow up a deferred command with the core's answer. A notice for the asker alone
    (slow down, a pointer to an earlier answer) replaces a public 'thinking…' placeholder
    with a private reply; a public answer is recorded (its jump URL) for repeats."""
    if answer.private and not ephemeral:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the public placeholder", exc_info=True)
        ephemeral = True
    sent = await interaction.followup.send(
        ephemeral=ephemeral, wait=True, allowed_mentions=NO_MENTIONS, **_answer_kwargs(answer)
    )
    if not ephemeral:
        frontend.bot.posted(answer, link=sent.jump_url)


def _answer_kwargs(answer: Answer) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"embed": embed(render.answer_embed(answer))}
    view = feedback_view(answer)
    if view is not None:
        kwargs["view"] = view
    return kwargs


# --- feedback buttons -----------------------------------------------------------------


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=FEEDBACK_ID):
    """A persistent Helpful / Not helpful button: the answer's log id and the vote live in
    the custom_id (`strikebot:fb:<log_id>:<1|0>`), so clicks still count after a restart."""

    def __init__(self, log_id: int, helpful: bool):
        self.log_id = log_id
        self.helpful = helpful
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"strikebot:fb:{log_id}:{int(helpful)}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FeedbackButton:
        return cls(int(match["log_id"]), match["helpful"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        frontend: Frontend = interaction.client.strike  # type: ignore[attr-defined]
        try:
            await record_vote(frontend, interaction, self)
        except Exception:
            log.exception("feedback button %s failed", self.custom_id)
            await tell_privately(interaction, APOLOGY)


async def record_vote(
    frontend: Frontend, interaction: discord.Interaction, button: FeedbackButton
) -> None:
    """Store the vote, thank the user privately, and grey out the buttons on a private
    answer (on a shared answer the others may still want to vote)."""
    user = str(interaction.user.id)
    message = interaction.message
    private = bool(message and message.flags.ephemeral)
    if private:
        await interaction.response.defer()
    else:
        await defer(interaction, ephemeral=True)
    if not frontend.votes.first_vote(button.log_id, user):
        await send(interaction, ephemeral=True, content="You already rated this answer. Thanks!")
        return
    try:
        known = await frontend.run(
            frontend.bot.feedback, button.log_id, button.helpful, PLATFORM, user
        )
    except Exception:
        frontend.votes.forget(button.log_id, user)
        raise
    if not known:
        text = "I can no longer find that answer (old answers are purged), so I didn't record it."
        await send(interaction, ephemeral=True, content=text)
        return
    if private and button.view is not None:
        await interaction.edit_original_response(view=voted_view(button.view, button.custom_id))
    thanks = "Thanks, glad it helped!" if button.helpful else "Thanks, I'll tell the maintainers."
    await send(interaction, ephemeral=True, content=thanks)


def voted_view(view: discord.ui.View, chosen: str) -> discord.ui.View:
    """The feedback buttons greyed out, the chosen one highlighted."""
    for child in view.children:
        item = child.item if isinstance(child, discord.ui.DynamicItem) else child
        if isinstance(item, discord.ui.Button):
            item.disabled = True
            if item.custom_id == chosen:
                item.style = discord.ButtonStyle.primary
    return view


# --- the add-fact modal ---------------------------------------------------------------


def _text_input(
    text: str, description: str | None = None, **kwargs: Any
) -> tuple[discord.ui.Label, discord.ui.TextInput]:
    field = discord.ui.TextInput(**kwargs)
    return discord.ui.Label(text=text, description=description, component=field), field


class AddFactModal(discord.ui.Modal):
    """The fields of a new fact (the topic was chosen in the command). The permission is
    checked again on submit."""

    def __init__(self, frontend: Frontend, topic: str, values: dict[str, str] | None = None):
        super().__init__(title=f"Add a fact: {topic}"[:45], timeout=900)
        self.frontend = frontend
        self.topic = topic
        v = values or {}
        fields = [
            _text_input(
                "Fact", "In our own words, one statement.", style=discord.TextStyle.paragraph,
                max_length=MAX_TEXT, default=v.get("text"),
            ),
            _text_input(
                "True as of", "YYYY-MM-DD", max_length=10,
                default=v.get("as_of", dt.date.today().isoformat()),
            ),
            _text_input(
                "Source title", "An existing source with this title and date is reused.",
                max_length=300, default=v.get("source_title"),
            ),
            _text_input(
                "Source date", "YYYY-MM-DD; leave blank to use the as-of date.",
                required=False, max_length=10, default=v.get("published"),
            ),
            _text_input(
                "Source URL", "Optional.", required=False, max_length=500,
                default=v.get("url"), placeholder="https://…",
            ),
        ]  # fmt: skip
        for label, _field in fields:
            self.add_item(label)
        self.text, self.as_of, self.source_title, self.published, self.url = (
            f for _label, f in fields
        )

    def values(self) -> dict[str, str]:
        return {
            "text": self.text.value,
            "as_of": self.as_of.value.strip(),
            "source_title": self.source_title.value,
            "published": (self.published.value or "").strip(),
            "url": (self.url.value or "").strip(),
        }

    async def on_submit(self, interaction: discord.Interaction) -> None:
        actor = self.frontend.actor(interaction)
        if not actor.is_admin:
            await tell_privately(interaction, self.frontend.refusal())
            return
        await defer(interaction, ephemeral=True)
        v = self.values()
        try:
            fact = await self.frontend.run(
                self.frontend.admin.add,
                actor,
                text=v["text"],
                topic=self.topic,
                as_of=v["as_of"],
                source_title=v["source_title"],
                published=v["published"] or v["as_of"],
                url=v["url"] or None,
            )
        except (AdminInputError, PermissionDenied, NotFound, StoreError) as exc:
            retry = RetryAddView(self.frontend, interaction.user.id, self.topic, v)
            text = f"The fact was not added: {explain(exc)}"
            await send(interaction, ephemeral=True, content=render.plain_message(text), view=retry)
            return
        await send(interaction, ephemeral=True, embed=embed(render.fact_embed(fact, "Added")))

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("add-fact modal failed", exc_info=error)
        await tell_privately(interaction, APOLOGY)


class RetryAddView(discord.ui.View):
    """'Edit and try again': reopens the add-fact form with what the admin typed."""

    def __init__(self, frontend: Frontend, user_id: int, topic: str, values: dict[str, str]):
        super().__init__(timeout=900)
        self.frontend, self.user_id, self.topic, self.values = frontend, user_id, topic, values

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Edit and try again", style=discord.ButtonStyle.primary)
    async def retry(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await interaction.response.send_modal(AddFactModal(self.frontend, self.topic, self.values))


# --- articles and the review queue ------------------------------------------------------


class RetryView(discord.ui.View):
    """'Edit and try again': reopens a form with what the admin typed (only for them)."""

    def __init__(self, user_id: int, reopen: Callable[[], discord.ui.Modal]):
        super().__init__(timeout=900)
        self.user_id, self.reopen = user_id, reopen

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Edit and try again", style=discord.ButtonStyle.primary)
    async def retry(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await interaction.response.send_modal(self.reopen())


class ArticleFileError(ValueError):
    """An attached article that cannot be read; the message is for the admin."""


async def read_article(file: discord.Attachment) -> str:
    """The text of an attached .txt article, downloaded through the attachment's URL."""
    content_type = (file.content_type or "").split(";")[0].strip().lower()
    if not file.filename.lower().endswith(".txt") and content_type != "text/plain":
        raise ArticleFileError("Attach the article as a plain-text .txt file.")
    too_big = f"The file is larger than {MAX_ARTICLE_BYTES // 1000:,} kB; split the article."
    if file.size > MAX_ARTICLE_BYTES:
        raise ArticleFileError(too_big)
    try:
        data = await file.read()
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not download attachment %s: %s", file.id, exc)
        raise ArticleFileError(
            "I could not download the file from Discord; please try again."
        ) from None
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleFileError(too_big)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleFileError("The file must be UTF-8 text.") from None


async def add_article(
    frontend: Frontend,
    interaction: discord.Interaction,
    actor: Actor,
    text: str,
    details: dict[str, Any],
) -> str | None:
    """Store the article and show what it proposed; the core's refusal, else None."""
    try:
        article_id, items = await frontend.run(frontend.review.add_article, actor, text, **details)
    except (AdminInputError, PermissionDenied, StoreError) as exc:
        return explain(exc) or APOLOGY
    data = render.article_embed(article_id, details["title"], items)
    await send(interaction, ephemeral=True, embed=embed(data))
    return None


class ArticleModal(discord.ui.Modal):
    """The text of an article, pasted (the other details came with the command). Discord
    caps a text input at 4000 characters: longer articles go in as a .txt attachment."""

    def __init__(self, frontend: Frontend, details: dict[str, Any], text: str | None = None):
        super().__init__(title="Add an article", timeout=900)
        self.frontend, self.details = frontend, details
        label, self.text = _text_input(
            "Article text",
            "Up to 4000 characters (Discord's limit); attach a .txt file for longer ones.",
            style=discord.TextStyle.paragraph,
            max_length=TEXT_INPUT_MAX,
            default=text,
        )
        self.add_item(label)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        actor = self.frontend.actor(interaction)
        if not actor.is_admin:
            await tell_privately(interaction, self.frontend.refusal())
            return
        await defer(interaction, ephemeral=True)
        text = self.text.value
        problem = await add_article(self.frontend, interaction, actor, text, self.details)
        if problem is not None:
            frontend, details = self.frontend, self.details
            retry = RetryView(interaction.user.id, lambda: ArticleModal(frontend, details, text))
            content = render.plain_message(f"The article was not added: {problem}")
            await send(interaction, ephemeral=True, content=content, view=retry)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("article modal failed", exc_info=error)
        await tell_privately(interaction, APOLOGY)


async def review_listing(frontend: Frontend) -> dict[str, Any]:
    """The review message: the oldest pending candidates with Accept / edit and Reject
    buttons (one row each), and how many are waiting."""
    items: list[ReviewItem] = await frontend.run(frontend.review.pending, REVIEW_COUNT_UP_TO)
    shown = items[: render.REVIEW_SHOWN]
    embeds = render.review_embeds(shown, len(items), at_least=len(items) >= REVIEW_COUNT_UP_TO)
    view = discord.ui.View(timeout=None)
    for row, item in enumerate(shown):
        view.add_item(ReviewButton("accept", item.id, row=row))
        view.add_item(ReviewButton("reject", item.id, row=row))
    return {"embeds": [embed(e) for e in embeds], "view": view}


class ReviewButton(discord.ui.DynamicItem[discord.ui.Button], template=REVIEW_ID):
    """A persistent review button (`strikebot:rv:<accept|reject>:<candidate id>`): it opens
    the accept / edit form or the reject form, and still works after a restart. Every
    click checks the permission again."""

    def __init__(self, action: str, candidate_id: int, *, row: int | None = None):
        self.action, self.candidate_id = action, candidate_id
        accept = action == "accept"
        super().__init__(
            discord.ui.Button(
                label=f"Accept / edit #{candidate_id}" if accept else f"Reject #{candidate_id}",
                style=discord.ButtonStyle.success if accept else discord.ButtonStyle.danger,
                custom_id=f"strikebot:rv:{action}:{candidate_id}",
                row=row,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ReviewButton:
        return cls(match["action"], int(match["candidate"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        frontend: Frontend = interaction.client.strike  # type: ignore[attr-defined]
        try:
            await open_review_form(frontend, interaction, self.action, self.candidate_id)
        except Exception:
            log.exception("review button %s failed", self.custom_id)
            await tell_privately(interaction, APOLOGY)


async def open_review_form(
    frontend: Frontend, interaction: discord.Interaction, action: str, candidate_id: int
) -> None:
    """Open the form for a review button, for admins and pending candidates only."""
    actor = frontend.actor(interaction)
    if not actor.is_admin:
        log.info("refused review %s for a non-admin", action)
        await tell_privately(interaction, frontend.refusal("/strike-admin review"))
        return
    try:
        item: ReviewItem = await frontend.run(frontend.review.candidate, candidate_id)
    except (NotFound, StoreError) as exc:
        await tell_privately(interaction, explain(exc) or APOLOGY)
        return
    r = item.record
    if r.status != PENDING:
        await tell_privately(interaction, closed_reason(r.id, r.status, r.fact_id, r.note))
        return
    if action == "accept":
        values = {
            "text": r.text,
            "topic": local(r.topic),
            "as_of": r.as_of.isoformat() if r.as_of else "",
        }
        modal: discord.ui.Modal = AcceptModal(frontend, r.id, values, from_listing=True)
    else:
        modal = RejectModal(frontend, r.id)
    await interaction.response.send_modal(modal)


class ReviewModal(discord.ui.Modal):
    """A review form. Submitting checks the permission again; the core decides the rest.
    From the review message the answer is acknowledged in place, and the message is
    refreshed after a success (the candidate leaves the list)."""

    def __init__(self, frontend: Frontend, candidate_id: int, title: str, from_listing: bool):
        super().__init__(title=title[:45], timeout=900)
        self.frontend, self.candidate_id, self.from_listing = frontend, candidate_id, from_listing

    async def on_submit(self, interaction: discord.Interaction) -> None:
        actor = self.frontend.actor(interaction)
        if not actor.is_admin:
            log.info("refused a review form for a non-admin")
            await tell_privately(interaction, self.frontend.refusal("/strike-admin review"))
            return
        if self.from_listing and interaction.message is not None:
            await interaction.response.defer()  # in place: the review message stays
        else:
            await defer(interaction, ephemeral=True)
        try:
            result = await self.decide(actor)
        except (AdminInputError, PermissionDenied, NotFound, StoreError) as exc:
            await self.refused(interaction, explain(exc) or APOLOGY)
            return
        await send(interaction, ephemeral=True, **result)
        if self.from_listing and interaction.message is not None:
            await refresh_listing(self.frontend, interaction)

    async def decide(self, actor: Actor) -> dict[str, Any]:
        raise NotImplementedError

    async def refused(self, interaction: discord.Interaction, text: str) -> None:
        await send(interaction, ephemeral=True, content=render.plain_message(text))

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("review form for candidate %s failed", self.candidate_id, exc_info=error)
        await tell_privately(interaction, APOLOGY)


class AcceptModal(ReviewModal):
    """Accept / edit: the candidate's text (to reword), topic and as-of date."""

    def __init__(
        self,
        frontend: Frontend,
        candidate_id: int,
        values: dict[str, str],
        *,
        from_listing: bool = False,
    ):
        super().__init__(frontend, candidate_id, f"Accept candidate #{candidate_id}", from_listing)
        fields = [
            _text_input(
                "Fact, in your own words", "The article's own sentence is refused: reword it.",
                style=discord.TextStyle.paragraph, max_length=MAX_TEXT,
                default=(values.get("text") or "")[:MAX_TEXT] or None,
            ),
            _text_input(
                "Topic", "e.g. strike.duration (a new topic is fine).", max_length=80,
                default=(values.get("topic") or "")[:80] or None,
            ),
            _text_input(
                "True as of", "YYYY-MM-DD; leave blank for the article's date.",
                required=False, max_length=10, default=(values.get("as_of") or "")[:10] or None,
            ),
        ]  # fmt: skip
        for label, _field in fields:
            self.add_item(label)
        self.text, self.topic, self.as_of = (f for _label, f in fields)

    def values(self) -> dict[str, str]:
        return {
            "text": self.text.value,
            "topic": self.topic.value.strip(),
            "as_of": (self.as_of.value or "").strip(),
        }

    async def decide(self, actor: Actor) -> dict[str, Any]:
        v = self.values()
        fact = await self.frontend.run(
            self.frontend.review.accept,
            actor,
            self.candidate_id,
            text=v["text"],
            topic=v["topic"] or None,
            as_of=v["as_of"] or None,
        )
        heading = f"Accepted candidate #{self.candidate_id} as"
        return {"embed": embed(render.fact_embed(fact, heading))}

    async def refused(self, interaction: discord.Interaction, text: str) -> None:
        frontend, candidate_id, values = self.frontend, self.candidate_id, self.values()
        retry = RetryView(interaction.user.id, lambda: AcceptModal(frontend, candidate_id, values))
        content = render.plain_message(f"Candidate #{candidate_id} was not accepted: {text}")
        await send(interaction, ephemeral=True, content=content, view=retry)


class RejectModal(ReviewModal):
    """Reject: why (kept with the candidate and in the audit log)."""

    def __init__(self, frontend: Frontend, candidate_id: int, *, from_listing: bool = True):
        super().__init__(frontend, candidate_id, f"Reject candidate #{candidate_id}", from_listing)
        label, self.reason = _text_input(
            "Why is it rejected?",
            "Kept with the candidate and in the audit log.",
            style=discord.TextStyle.paragraph,
            max_length=MAX_REASON,
        )
        self.add_item(label)

    async def decide(self, actor: Actor) -> dict[str, Any]:
        item: ReviewItem = await self.frontend.run(
            self.frontend.review.reject, actor, self.candidate_id, self.reason.value
        )
        text = f"Rejected candidate #{item.id}: {item.record.note}"
        return {"content": render.plain_message(text)}


async def refresh_listing(frontend: Frontend, interaction: discord.Interaction) -> None:
    """Show the queue as it is now in the review message the form was opened from."""
    try:
        await interaction.edit_original_response(content=None, **await review_listing(frontend))
    except (discord.HTTPException, StoreError):
        log.warning("could not refresh the review message", exc_info=True)


# --- slash commands -------------------------------------------------------------------


class StrikeCommands(app_commands.Group):
    """`/strike …`: questions and the public views of the knowledge."""

    def __init__(self, frontend: Frontend):
        super().__init__(name="strike", description="Short, sourced answers about the strike")
        self.frontend = frontend

    @app_commands.command(description="The latest picture of the strike, posted in the channel")
    @app_commands.describe(pack="Another dispute's pack id (default: this channel's)")
    async def status(
        self, interaction: discord.Interaction, pack: app_commands.Range[str, 1, 63] | None = None
    ) -> None:
        await defer(interaction, ephemeral=False)
        where = _guild_channel(interaction)
        answer = await self.frontend.status(
            interaction.user.id, where, command=True, pack=pack.lower() if pack else None
        )
        await post_answer(self.frontend, interaction, answer, ephemeral=False)

    @app_commands.command(description="A topic's facts in date order, newest marked current")
    @app_commands.describe(topic="The topic's id or label, e.g. offer.pay")
    async def timeline(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 100]
    ) -> None:
        await defer(interaction, ephemeral=True)
        where = _guild_channel(interaction)
        answer = await self.frontend.timeline(topic, interaction.user.id, where)
        await post_answer(self.frontend, interaction, answer, ephemeral=True)

    @app_commands.command(description="Ask a question about the strike in your own words")
    @app_commands.describe(
        question="Your question, e.g. how long has the strike lasted?",
        public="Post the answer for everyone in the channel (default: only you see it)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        public: bool = False,
    ) -> None:
        await defer(interaction, ephemeral=not public)
        answer = await self.frontend.ask(
            question,
            interaction.user.id,
            _guild_channel(interaction),
            private=not public,
            command=True,
        )
        await post_answer(self.frontend, interaction, answer, ephemeral=not public)

    @ask.autocomplete("question")
    async def ask_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=q, value=q) for q in self.frontend.suggestions(current)]

    @app_commands.command(description="What I can answer about")
    @app_commands.describe(public="Post the list for everyone in the channel")
    async def topics(self, interaction: discord.Interaction, public: bool = False) -> None:
        await defer(interaction, ephemeral=not public)
        labels = await self.frontend.run(self.frontend.bot.topics)
        await send(interaction, ephemeral=not public, embed=embed(render.topics_embed(labels)))

    @app_commands.command(description="The sources behind my answers")
    @app_commands.describe(public="Post the list for everyone in the channel")
    async def sources(self, interaction: discord.Interaction, public: bool = False) -> None:
        await defer(interaction, ephemeral=not public)
        sources = await self.frontend.run(self.frontend.bot.sources)
        await send(interaction, ephemeral=not public, embed=embed(render.sources_embed(sources)))

    @app_commands.command(description="How to use strikebot")
    async def help(self, interaction: discord.Interaction) -> None:
        await send(interaction, ephemeral=True, embed=embed(render.help_embed()))

    @app_commands.command(description="Admins: post an update here whenever the status changes")
    async def subscribe(self, interaction: discord.Interaction) -> None:
        await self._subscription(interaction, "subscribe")

    @app_commands.command(description="Admins: stop posting status updates in this channel")
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        await self._subscription(interaction, "unsubscribe")

    async def _subscription(self, interaction: discord.Interaction, name: str) -> None:
        """Subscribe or unsubscribe the channel the command is typed in (admins, guilds)."""
        if interaction.guild_id is None or interaction.channel_id is None:
            await tell_privately(interaction, GUILD_CHANNELS_ONLY)
            return
        actor = self.frontend.actor(interaction)
        if not actor.is_admin:
            log.info("refused /strike %s for a non-admin", name)
            await tell_privately(interaction, self.frontend.refusal(f"/strike {name}"))
            return
        if name == "subscribe":
            missing = missing_post_permissions(interaction.app_permissions)
            if missing:
                await tell_privately(interaction, cannot_post(missing))
                return
        await defer(interaction, ephemeral=True)
        change = getattr(self.frontend.subscriptions, name)
        try:
            await self.frontend.run(self.frontend.admin.require, actor)  # the admin rate
            result = await self.frontend.run(change, actor, PLATFORM, str(interaction.channel_id))
        except (AdminInputError, PermissionDenied, StoreError) as exc:
            await tell_privately(interaction, explain(exc) or APOLOGY)
            return
        await send(interaction, ephemeral=True, content=render.plain_message(result.message))


POST_PERMISSIONS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),  # status updates are embeds
)


def missing_post_permissions(permissions: discord.Permissions) -> list[str]:
    """The permissions the bot lacks (in the channel of an interaction: Discord sends them
    with it) to post status updates there."""
    return [label for flag, label in POST_PERMISSIONS if not getattr(permissions, flag)]


def cannot_post(missing: list[str]) -> str:
    names = ", ".join(missing)
    return (
        f"I can't post status updates in this channel: I need the {names} "
        f"permission{'s' if len(missing) > 1 else ''} here. Give them to strikebot (its role, "
        "or this channel's permissions), then run `/strike subscribe` again. Nothing was changed."
    )


class AdminCommands(
    app_commands.Group,
    name="strike-admin",
    description="Change what strikebot knows (server managers only)",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
):
    """`/strike-admin …`: shown to Manage Server by default, and checked again on every call
    (a guild can override who sees it; STRIKEBOT_DISCORD_ADMIN_ROLE is also allowed)."""

    def __init__(self, frontend: Frontend):
        super().__init__()
        self.frontend = frontend

    async def _allowed(self, interaction: discord.Interaction) -> Actor | None:
        actor = self.frontend.actor(interaction)
        if not actor.is_admin:
            log.info("refused /strike-admin for a non-admin")
            await tell_privately(interaction, self.frontend.refusal())
            return None
        return actor

    async def _call(
        self,
        interaction: discord.Interaction,
        func: Callable[..., T],
        *args: Any,
        show: Callable[[T], dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        """Check the permission, defer, run the admin action, show the result privately."""
        actor = await self._allowed(interaction)
        if actor is None:
            return
        await defer(interaction, ephemeral=True)
        try:
            result = await self.frontend.run(func, actor, *args, **kwargs)
        except (AdminInputError, PermissionDenied, NotFound, StoreError) as exc:
            await tell_privately(interaction, explain(exc) or APOLOGY)
            return
        await send(interaction, ephemeral=True, embed=embed(show(result)))

    @app_commands.command(description="Add a fact: choose its topic, then fill in the form")
    @app_commands.describe(topic="The topic, e.g. offer.pay (pick one or type a new one)")
    async def add(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 64]
    ) -> None:
        if await self._allowed(interaction) is None:
            return
        try:
            topic = check_topic(topic)
        except AdminInputError:
            await tell_privately(interaction, BAD_TOPIC)
            return
        await interaction.response.send_modal(AddFactModal(self.frontend, topic))

    @add.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not self.frontend.actor(interaction).is_admin:
            return []
        topics = sorted({local(t) for t in self.frontend.bot.knowledge.topics})
        return _choices(topics, current)

    @app_commands.command(description="Withdraw a fact from answers (kept, and restorable)")
    @app_commands.describe(id="The fact id", reason="Why it is withdrawn (kept in the audit log)")
    async def retract(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[str, 1, 100],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        admin = self.frontend.admin
        await self._call(
            interaction,
            admin.retract,
            id.strip(),
            reason,
            show=lambda fact: render.fact_embed(fact, "Retracted"),
        )

    @app_commands.command(description="Put a retracted fact back into answers")
    @app_commands.describe(id="The fact id", reason="Why it is restored (optional)")
    async def restore(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[str, 1, 100],
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        admin = self.frontend.admin
        await self._call(
            interaction,
            admin.restore,
            id.strip(),
            reason,
            show=lambda fact: render.fact_embed(fact, "Restored"),
        )

    @retract.autocomplete("id")
    async def active_fact_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._fact_choices(interaction, current, "active")

    @restore.autocomplete("id")
    async def retracted_fact_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._fact_choices(interaction, current, "retracted")

    async def _fact_choices(
        self, interaction: discord.Interaction, current: str, status: str
    ) -> list[app_commands.Choice[str]]:
        if not self.frontend.actor(interaction).is_admin:
            return []
        facts: list[Fact] = await self.frontend.run(self.frontend.bot.store.facts)
        return _choices([f.id for f in facts if f.status == status], current)

    @app_commands.command(description="Recent changes to the facts: who, what, when")
    @app_commands.describe(limit="How many entries (default 20)", fact="Only this fact's history")
    async def audit(
        self,
        interaction: discord.Interaction,
        limit: app_commands.Range[int, 1, 50] = 20,
        fact: str | None = None,
    ) -> None:
        await self._call(
            interaction,
            self.frontend.admin.audit,
            limit=limit,
            fact_id=fact,
            show=render.audit_embed,
        )

    @app_commands.command(description="Recent questions I could not answer")
    @app_commands.describe(limit="How many questions (default 20)")
    async def unanswered(
        self, interaction: discord.Interaction, limit: app_commands.Range[int, 1, 50] = 20
    ) -> None:
        await self._call(
            interaction,
            self.frontend.admin.unanswered,
            limit=limit,
            show=render.unanswered_embed,
        )

    @app_commands.command(description="Add an article (a .txt file, or paste it) to propose facts")
    @app_commands.describe(
        title="The article's headline",
        published="The day it was published, YYYY-MM-DD",
        file="The article as a .txt file; without one a form opens (4000 characters at most)",
        url="A link to the article (optional)",
        publisher="Who published it (optional)",
    )
    async def article(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 300],
        published: app_commands.Range[str, 1, 10],
        file: discord.Attachment | None = None,
        url: app_commands.Range[str, 1, 500] | None = None,
        publisher: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        actor = await self._allowed(interaction)
        if actor is None:
            return
        details = {
            "title": title,
            "published": published.strip(),
            "url": (url or "").strip() or None,
            "publisher": (publisher or "").strip() or None,
        }
        if file is None:
            try:
                await self.frontend.run(self.frontend.review.check_article, **details)
            except (AdminInputError, StoreError) as exc:
                await tell_privately(interaction, explain(exc) or APOLOGY)
                return
            await interaction.response.send_modal(ArticleModal(self.frontend, details))
            return
        await defer(interaction, ephemeral=True)
        try:
            text = await read_article(file)
        except ArticleFileError as exc:
            await tell_privately(interaction, str(exc))
            return
        problem = await add_article(self.frontend, interaction, actor, text, details)
        if problem is not None:
            await tell_privately(interaction, f"The article was not added: {problem}")

    @app_commands.command(description="Candidate facts waiting for review: accept, edit or reject")
    async def review(self, interaction: discord.Interaction) -> None:
        if await self._allowed(interaction) is None:
            return
        await defer(interaction, ephemeral=True)
        try:
            listing = await review_listing(self.frontend)
        except StoreError as exc:
            await tell_privately(interaction, explain(exc) or APOLOGY)
            return
        await send(interaction, ephemeral=True, **listing)

    @app_commands.command(description="Facts past their review-by date")
    async def due(self, interaction: discord.Interaction) -> None:
        await self._call(
            interaction, self.frontend.due, show=lambda r: render.due_embed(r[1], r[0])
        )

    @app_commands.command(description="Answer questions in this channel from one dispute (a pack)")
    @app_commands.describe(id="The pack id; empty: which one and the packs in use; none: unbind")
    async def pack(
        self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 63] | None = None
    ) -> None:
        where = _guild_channel(interaction)
        await self._call(
            interaction, self.frontend.channel_pack, where, id, show=render.notice_embed
        )

    @app_commands.command(description="Channels that get status updates, and updates not delivered")
    async def subscriptions(self, interaction: discord.Interaction) -> None:
        await self._call(
            interaction, self.frontend.subscription_list, show=render.subscriptions_embed
        )

    @app_commands.command(description="What people could not get answered, top facts, answer rate")
    @app_commands.describe(days="Look back this many days (default 30)")
    async def report(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 30
    ) -> None:
        def show(rep: Report) -> dict[str, Any]:
            return render.report_embed(rep, days)

        await self._call(interaction, self.frontend.reports.build, days, show=show)


def _choices(values: list[str], current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 autocomplete choices containing what is typed (all when nothing is)."""
    typed = current.strip().lower()
    hits = [v for v in values if typed in v.lower()] if typed else values
    return [app_commands.Choice(name=v[:100], value=v[:100]) for v in hits[:25]]


class StrikeTree(app_commands.CommandTree):
    """The command tree; every failed command ends in a private message, never silence."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        name = interaction.command.qualified_name if interaction.command else "?"
        if isinstance(error, app_commands.NoPrivateMessage):
            text: str | None = "That command only works in a server."
        elif isinstance(error, app_commands.CheckFailure):
            text = "You can't use that command here."
        else:
            text = explain(original)
        if text is None:
            log.error("/%s failed", name, exc_info=original)
            text = APOLOGY
        await tell_privately(interaction, text)


# --- status updates -------------------------------------------------------------------


async def post_update(client: discord.Client, delivery: Delivery) -> None:
    """One update to one channel (by id, no fetch needed); raises when Discord refuses it."""
    channel = client.get_partial_messageable(int(delivery.channel))
    data = discord_update_embed(delivery.update)
    await channel.send(embed=embed(data), allowed_mentions=NO_MENTIONS)


async def deliver_updates(
    client: discord.Client, stop: asyncio.Event | None = None
) -> dict[str, int]:
    """One delivery round: claim, post and record each pending update, in order, until done
    or `stop` is set. The store work runs off the event loop; a failed post is retried
    next round."""
    frontend: Frontend = client.strike  # type: ignore[attr-defined]
    current = frontend.deliverer.round(PLATFORM)
    while not (stop and stop.is_set()):
        delivery = await frontend.run(current.next)
        if delivery is None:
            break
        try:
            await post_update(client, delivery)
        except Exception as exc:
            await frontend.run(current.failed, delivery, exc)
        else:
            await frontend.run(current.sent, delivery)
    return dict(current.counts)


async def _ready_or_stopped(client: discord.Client, stop: asyncio.Event) -> bool:
    """Wait until the client is ready (True) or the loop is asked to stop (False)."""
    ready = asyncio.ensure_future(client.wait_until_ready())
    stopped = asyncio.ensure_future(stop.wait())
    done, pending = await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return ready in done


async def delivery_loop(client: discord.Client, interval: float, stop: asyncio.Event) -> None:
    """Deliver status updates once ready and then every `interval` seconds, until `stop`
    is set. A round is never cut off half-way through a delivery."""
    if not await _ready_or_stopped(client, stop):
        return
    while not stop.is_set():
        try:
            await deliver_updates(client, stop)
        except StoreError as exc:
            log.warning("status updates not delivered this round: %s", exc)
        except Exception:
            log.exception("delivering status updates to Discord failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


# --- the client -----------------------------------------------------------------------


class StrikeClientMixin:
    """The bot's client behaviour, shared by the single and the sharded client."""

    strike: Frontend
    tree: StrikeTree

    def _init_strike(self, frontend: Frontend) -> None:
        self.strike = frontend
        self.tree = StrikeTree(self)  # type: ignore[arg-type]
        self.tree.add_command(StrikeCommands(frontend))
        self.tree.add_command(AdminCommands(frontend))

    async def setup_hook(self) -> None:
        """Runs once after login: persistent buttons, the status-update loop, then the
        command sync."""
        self.add_dynamic_items(FeedbackButton, ReviewButton)  # type: ignore[attr-defined]
        self._delivery_stop = asyncio.Event()
        interval = self.strike.settings.delivery_interval
        self._delivery = asyncio.create_task(
            delivery_loop(self, interval, self._delivery_stop)  # type: ignore[arg-type]
        )
        await sync_commands(self.tree, self.strike.settings.discord_guild_id, frontend=self.strike)

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s (%s)", self.user, self.user.id)  # type: ignore[attr-defined]

    async def on_message(self, message: discord.Message) -> None:
        """Answer a mention or a DM with a reply to that message."""
        me = self.user  # type: ignore[attr-defined]
        if me is None or message.author.bot or message.author.id == me.id:
            return
        text = question_from_message(
            message.content,
            me.id,
            addressed=_addressed(message, me),
            role_id=_own_role_id(message),
        )
        if text is None:
            return
        try:
            await answer_message(self.strike, message, text)
        except Exception:
            log.exception("answering message %s failed", message.id)
            await _reply(message, content=APOLOGY)

    async def close(self) -> None:
        await self._stop_delivery()
        await super().close()  # type: ignore[misc]
        self.strike.close()

    async def _stop_delivery(self) -> None:
        """Let the delivery loop finish the update it is sending, then end it."""
        task: asyncio.Task | None = getattr(self, "_delivery", None)
        if task is None or task.done():
            return
        self._delivery_stop.set()
        _done, pending = await asyncio.wait({task}, timeout=DELIVERY_STOP_TIMEOUT_S)
        for unfinished in pending:
            unfinished.cancel()


class StrikeClient(StrikeClientMixin, discord.Client):
    """One gateway connection: enough for most bots."""

    def __init__(self, frontend: Frontend, **options: Any):
        super().__init__(**options)
        self._init_strike(frontend)


class ShardedStrikeClient(StrikeClientMixin, discord.AutoShardedClient):
    """Several gateway connections, for bots in many servers (DISCORD_SHARDS)."""

    def __init__(self, frontend: Frontend, **options: Any):
        super().__init__(**options)
        self._init_strike(frontend)


def command_tree_hash(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    """A hash of exactly what a sync would register (the payload discord.py sends), for
    this application and this guild (or globally)."""
    commands = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    where = {"application": tree.client.application_id, "guild": guild.id if guild else None}
    text = json.dumps({**where, "commands": commands}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def sync_commands(
    tree: app_commands.CommandTree, guild_id: int | None, *, frontend: Frontend | None = None
) -> None:
    """Register the commands: instantly in one guild with DISCORD_GUILD_ID, else globally
    (Discord can take a while to show global changes), and only when they changed since the
    last sync from this database (the command tree's hash is kept in its meta table: the
    bulk overwrite is rate-limited, and a start needs none). A failure is logged, not fatal:
    mentions and DMs work without commands."""
    guild = discord.Object(id=guild_id) if guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    key = f"{COMMANDS_HASH_KEY}:{guild_id or 'global'}"
    digest = command_tree_hash(tree, guild)
    if frontend is not None and await _stored_meta(frontend, key) == digest:
        log.info("commands unchanged since the last sync; not synced again")
        return
    try:
        if guild is not None:
            synced = await tree.sync(guild=guild)
            log.info("synced %d command(s) to guild %s", len(synced), guild_id)
        else:
            synced = await tree.sync()
            log.info("synced %d global command(s)", len(synced))
        if frontend is not None:
            await _store_meta(frontend, key, digest)
    except discord.Forbidden:
        log.error(
            "Discord refused the command sync: invite the bot with the applications.commands "
            "scope%s (see deploy/DISCORD.md)",
            f" to guild {guild_id}, the DISCORD_GUILD_ID" if guild_id else "",
        )
    except discord.HTTPException as exc:
        log.error("command sync failed: %s %s", exc.status, exc.text)


async def _stored_meta(frontend: Frontend, key: str) -> str | None:
    try:
        return await frontend.run(frontend.bot.store.meta, key)
    except StoreError as exc:
        log.warning("could not read the last command sync: %s", exc)
        return None


async def _store_meta(frontend: Frontend, key: str, value: str) -> None:
    try:
        await frontend.run(frontend.bot.store.set_meta, key, value)
    except StoreError as exc:  # the next start syncs again: harmless
        log.warning("could not record the command sync: %s", exc)


def _addressed(message: discord.Message, me: discord.abc.User) -> bool:
    if message.guild is None:
        return True
    if any(u.id == me.id for u in message.mentions):
        return True
    role = message.guild.self_role
    return role is not None and role in message.role_mentions


def _own_role_id(message: discord.Message) -> int | None:
    role = message.guild.self_role if message.guild else None
    return role.id if role else None


async def _reply(message: discord.Message, **kwargs: Any) -> discord.Message | None:
    """Reply to a message without pinging anyone (the author included); the reply, or None
    when Discord refused it."""
    try:
        return await message.channel.send(
            reference=message.to_reference(fail_if_not_exists=False),
            mention_author=False,
            allowed_mentions=NO_MENTIONS,
            **kwargs,
        )
    except discord.HTTPException as exc:
        log.warning("could not reply in channel %s: %s", message.channel.id, exc)
        return None


async def answer_message(frontend: Frontend, message: discord.Message, text: str) -> None:
    """Answer a mention or DM: a text command (help, status, topics, sources) or a question,
    within the core's limits. Nothing is posted for an ignored message; a notice is a reply
    like any other (a message cannot be answered privately); a posted answer is recorded
    (its jump URL) for repeats to point to."""
    command = text.lower().lstrip("/!").strip(" ?.!")
    user = message.author.id
    channel = message.channel.id if message.guild is not None else None
    answer: Answer | None
    if command == "status":
        answer = await frontend.status(user, channel)
    elif not text or command in ("help", "topics", "sources"):
        answer = await frontend.admit(text or "help", user, channel)
    else:
        answer = await frontend.ask(text, user, channel)
    if answer is not None and answer.kind == IGNORED:
        return
    await _show_typing(message.channel)
    if answer is not None:
        kwargs = _answer_kwargs(answer)
    elif command == "topics":
        labels = await frontend.run(frontend.bot.topics)
        kwargs = {"embed": embed(render.topics_embed(labels))}
    elif command == "sources":
        sources = await frontend.run(frontend.bot.sources)
        kwargs = {"embed": embed(render.sources_embed(sources))}
    else:
        kwargs = {"embed": embed(render.help_embed())}
    sent = await _reply(message, **kwargs)
    if answer is not None and sent is not None:
        frontend.bot.posted(answer, link=sent.jump_url)


async def _show_typing(channel: discord.abc.Messageable) -> None:
    """'strikebot is typing…' while answering; failing to show it does not matter."""
    try:
        await channel.typing()
    except discord.HTTPException:
        log.debug("typing indicator failed", exc_info=True)


# --- building and running -------------------------------------------------------------


def intents() -> discord.Intents:
    """The default intents: no privileged ones. Discord still sends the text of messages
    that mention the bot and of DMs without the message-content intent."""
    wanted = discord.Intents.default()
    wanted.message_content = False
    wanted.members = False
    wanted.presences = False
    return wanted


def build_client(
    settings: Settings, bot: StrikeBot, admin: AdminService, **client_options: Any
) -> discord.Client:
    """The Discord client for these settings, with its commands, views and handlers.
    `client_options` go to discord.py's Client (e.g. guild_ready_timeout in tests)."""
    use_endpoints(settings.discord_api_url, settings.discord_gateway_url)
    # strikebot never joins voice: no "PyNaCl/davey is not installed" warnings at start.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    frontend = Frontend(settings, bot, admin)
    options: dict[str, Any] = {
        "intents": intents(),
        "allowed_mentions": NO_MENTIONS,
        **client_options,
    }
    shards = parse_shards(settings.discord_shards)
    if shards is None:
        return _retry_unavailable(StrikeClient(frontend, **options))
    if isinstance(shards, int):
        options["shard_count"] = shards
    client = ShardedStrikeClient(frontend, **options)
    _pin_bot_gateway(client.http, settings.discord_gateway_url)
    return _retry_unavailable(client)


class DiscordPlatform:
    """Discord as one platform of `strikebot run`, on the caller's event loop: connect,
    serve until stopped, then finish the interactions in flight and close.

    discord.py resumes dropped gateway sessions by itself; what reaches the supervisor is
    a rejected token or an unreachable Discord (PlatformError, retried) or a bad setting
    (PlatformConfigError)."""

    name = "discord"

    def __init__(self, settings: Settings, bot: StrikeBot, **client_options: Any):
        self.settings = settings
        self.bot = bot
        self.client_options = client_options
        self.client: discord.Client | None = None

    def _token(self) -> str:
        settings = self.settings
        secret = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
        if not secret:
            raise PlatformConfigError(
                "DISCORD_TOKEN is not set: put the bot token from the Discord "
                "Developer Portal in DISCORD_TOKEN (see deploy/DISCORD.md)."
            )
        problem = endpoint_problem(settings.discord_api_url, settings.discord_gateway_url)
        if problem:
            raise PlatformConfigError(problem)
        return secret

    def _build(self) -> discord.Client:
        try:
            return build_client(
                self.settings, self.bot, AdminService(self.bot), **self.client_options
            )
        except ValueError as exc:
            raise PlatformConfigError(str(exc)) from None

    def _failure(self, exc: BaseException) -> PlatformError:
        if isinstance(exc, discord.LoginFailure):
            return PlatformError(
                "Discord rejected DISCORD_TOKEN (401 Unauthorized): copy the bot token again "
                "from the Developer Portal."
            )
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            return PlatformConfigError(
                "Discord asked for a privileged intent; strikebot needs none "
                "(see deploy/DISCORD.md)."
            )
        if isinstance(exc, aiohttp.ClientError | OSError):
            return PlatformError(
                f"Cannot reach Discord at {self.settings.discord_api_url}: {exc}. "
                "Check the network or DISCORD_API_URL."
            )
        if isinstance(exc, discord.ConnectionClosed):
            return PlatformError(f"Discord closed the gateway connection (code {exc.code}).")
        if isinstance(exc, discord.HTTPException):
            return PlatformError(f"Discord answered {exc.status}: {exc.text or exc}")
        return PlatformError(f"{type(exc).__name__}: {exc}")

    async def run(self, stop: asyncio.Event, state: PlatformState) -> None:
        """Serve until `stop` is set (see supervisor.Platform)."""
        secret = self._token()
        client = self.client = self._build()
        state.probe = lambda: client.is_ready() and not client.is_closed()
        running = asyncio.create_task(client.start(secret), name="strikebot-discord")
        stopping = asyncio.create_task(stop.wait())
        try:
            ready = asyncio.create_task(client.wait_until_ready())
            await asyncio.wait({running, stopping, ready}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if client.is_ready():
                state.detail = _describe(client)
                state.set(CONNECTED)
                await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                exc = running.exception()
                raise self._failure(exc) if exc else PlatformError("the Discord client stopped")
            state.set(STOPPING)
            await finish_in_flight(self.settings.shutdown_grace)
        finally:
            stopping.cancel()
            if not client.is_closed():
                await client.close()
            if not running.done():
                await asyncio.wait({running}, timeout=5)
            self.client = None


def _describe(client: discord.Client) -> str:
    count = client.shard_count or 1
    return f"{count} shard{'s' if count != 1 else ''}, {len(client.guilds)} server(s)"


# Tasks discord.py creates for the work strikebot does: app commands and autocomplete, button
# and form submissions, and message events (mentions and DMs).
IN_FLIGHT_TASKS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-modal-dispatch",
    "discord-ui-dynamic-item",
    "discord.py: on_message",
)


async def finish_in_flight(grace: float) -> bool:
    """Wait, up to `grace` seconds, for the interactions and messages being handled now to
    get their answers; True when all did."""
    deadline = asyncio.get_running_loop().time() + grace
    me = asyncio.current_task()
    while True:
        busy = [
            t
            for t in asyncio.all_tasks()
            if t is not me and not t.done() and t.get_name().startswith(IN_FLIGHT_TASKS)
        ]
        left = deadline - asyncio.get_running_loop().time()
        if not busy:
            return True
        if left <= 0:
            log.warning(
                "%d Discord request(s) still running after %.0f s; stopping", len(busy), grace
            )
            return False
        await asyncio.wait(busy, timeout=left)


def run_discord(settings: Settings, bot: StrikeBot) -> None:
    """`strikebot discord`: only Discord, until Ctrl-C or SIGTERM. Any problem connecting
    ends it with a one-line SystemExit; `strikebot run` retries instead."""

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await DiscordPlatform(settings, bot).run(stop, PlatformState("discord"))

    try:
        asyncio.run(main())
    except PlatformError as exc:
        raise SystemExit(str(exc)) from None
    except KeyboardInterrupt:
        pass
