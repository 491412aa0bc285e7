"""The Slack adapter: a Bolt app that turns mentions, DMs, `/strike`, `/strike-admin`,
buttons and modals (add a fact, add an article, review its candidates) into calls on the
core, and the core's answers into Block Kit.

It runs in Socket Mode when SLACK_APP_TOKEN is set, otherwise as an HTTP server whose
requests Bolt verifies with SLACK_SIGNING_SECRET. Every request is acknowledged first and
the slow work (answering, posting) happens after the ack, within Bolt's listener threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any
from urllib.error import URLError

from pydantic import SecretStr
from slack_bolt import App, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.adapters.slack_http import EVENTS_PATH, SlackHTTPServer
from bot.adapters.slack_replay import VerifiedOnce, guard_for
from bot.core.admin import Actor, AdminInputError, AdminService, PermissionDenied
from bot.core.due import due_facts
from bot.core.limits import IGNORED, REPEAT
from bot.core.models import Answer, Question
from bot.core.pack_admin import PackAdmin
from bot.core.packs import local
from bot.core.permissions import slack_is_admin
from bot.core.report import ReportService
from bot.core.review import ReviewService
from bot.core.service import StrikeBot
from bot.core.slash_commands import ASK, SUBSCRIBE, UNSUBSCRIBE, Command, parse_admin, parse_strike
from bot.core.updates import (
    Deliverer,
    DeliveryFailed,
    StatusUpdate,
    StatusUpdates,
    SubscriptionService,
)
from bot.render import slack_blocks as kit
from bot.render.status_updates import slack_update_message
from bot.runtime.health import HealthChecks
from bot.runtime.supervisor import (
    CONNECTED,
    STOPPING,
    PlatformConfigError,
    PlatformError,
    PlatformState,
)
from bot.settings import Settings
from bot.store.db import NotFound, StoreError
from bot.store.review_queue import PENDING, closed_reason

log = logging.getLogger(__name__)

STRIKE_COMMAND = "/strike"
ADMIN_COMMAND = "/strike-admin"
SOCKET_PING_INTERVAL_S = 5.0
SEEN_LIMIT = 5000
ADMIN_REFUSAL = (
    "Sorry, only strikebot admins can use `/strike-admin`; nothing was changed. "
    "Ask an admin if a fact needs fixing."
)
SUBSCRIBE_REFUSAL = (
    "Sorry, only strikebot admins can subscribe or unsubscribe a channel; nothing was changed."
)
NOT_A_CHANNEL = (
    "Run `/strike subscribe` in the channel that should get the updates, not in a direct message."
)
SUBSCRIBED_CONFIRMATION = (
    "An admin subscribed this channel to strike status updates: strikebot will post here "
    "whenever the status changes."
)
CANNOT_POST = (
    "I can't post in this channel (Slack says `{code}`), so it was not subscribed and nothing "
    "was changed. Invite me first (`/invite @strikebot`), then run `/strike subscribe` again."
)
NO_CHECK = (
    "I couldn't reach Slack to check that I can post in this channel; nothing was changed. "
    "Please try `/strike subscribe` again in a moment."
)
FAILURE = "Sorry, something went wrong on my side; please try again in a moment."
STORE_FAILURE = "Sorry, I can't reach my database right now; please try again shortly."
BOT_TOKEN_NAME = "Bot User OAuth Token"
APP_TOKEN_NAME = "app-level token"
POST_OPTIONS = {"unfurl_links": False, "unfurl_media": False, "link_names": False, "parse": "none"}
EPHEMERAL_OPTIONS = {"link_names": False, "parse": "none"}
REVIEW_FETCH = 1000  # pending candidates read to count them; at most kit.REVIEW_SHOWN are shown
MAX_RETRY_AFTER_S = 30  # a longer wait asked by a 429 is not waited for: the call fails
BAD_REQUEST = '{"error": "bad request"}'

Reply = Callable[[dict[str, Any]], Any]


class Seen:
    """A bounded, thread-safe set of recently seen keys (oldest forgotten first)."""

    def __init__(self, limit: int = SEEN_LIMIT):
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        """Remember `key`; False when it was already there."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._limit:
                self._keys.popitem(last=False)
            return True


class Recent:
    """A bounded, thread-safe map of recent values by key."""

    def __init__(self, limit: int = 500):
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)


class StrikeSlack:
    """The handlers: Slack payloads in, core calls, Block Kit out."""

    def __init__(self, settings: Settings, bot: StrikeBot, admin: AdminService):
        self.settings = settings
        self.bot = bot
        self.admin = admin
        self.seen = Seen()
        self.votes = Seen()
        self.sent = Recent()
        self.subscriptions = SubscriptionService(bot.store)
        self.review = ReviewService(bot, admin)
        self.reports = ReportService(bot, admin)
        self.packs = PackAdmin(admin)
        StatusUpdates.attach(admin)  # admin changes here queue status updates
        # One core call at a time from Slack's listener threads: the store shares a connection.
        self.core = threading.RLock()

    def register(self, app: App) -> None:
        """Attach every middleware and listener to the Bolt app."""
        app.middleware(self.skip_duplicate_events)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command(STRIKE_COMMAND)(self.on_strike)
        app.command(ADMIN_COMMAND)(self.on_admin)
        app.action(kit.ACTION_HELPFUL)(self.on_feedback)
        app.action(kit.ACTION_NOT_HELPFUL)(self.on_feedback)
        app.view(kit.ADD_FACT_CALLBACK)(self.on_add_submitted)
        app.view(kit.ARTICLE_CALLBACK)(self.on_article_submitted)
        for action_id in kit.REVIEW_ACTIONS:
            app.action(action_id)(self.on_review_button)
        app.view(kit.REVIEW_ACCEPT_CALLBACK)(self.on_candidate_submitted)
        app.view(kit.REVIEW_EDIT_CALLBACK)(self.on_candidate_submitted)
        app.view(kit.REVIEW_REJECT_CALLBACK)(self.on_reject_submitted)

    # --- retries and duplicates ----------------------------------------------------------

    def skip_duplicate_events(
        self, req: BoltRequest, body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Acknowledge, without handling, an event we already received (Slack's retries)."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.seen.add(f"event:{event_id}"):
            retry = req.headers.get("x-slack-retry-num", ["0"])[0]
            log.info("skipping duplicate delivery of event %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    # --- shared helpers ------------------------------------------------------------------

    def is_admin(self, user_id: str, client: WebClient) -> bool:
        """The core's verdict; users.info is asked only when workspace admins count."""
        ids = self.settings.slack_admin_ids
        allowed = self.settings.slack_workspace_admins
        if user_id in ids or not allowed:
            return slack_is_admin(user_id, ids, workspace_admins_allowed=False)
        try:
            user = client.users_info(user=user_id).get("user") or {}
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("users.info failed (is the user a workspace admin?): %s", _api_error(exc))
            user = {}
        if user.get("deleted"):
            return False
        return slack_is_admin(
            user_id,
            ids,
            workspace_admins_allowed=True,
            is_workspace_admin=bool(user.get("is_admin")),
            is_workspace_owner=bool(user.get("is_owner") or user.get("is_primary_owner")),
        )

    def compute(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a core call; its errors become a short message for the user."""
        try:
            with self.core:
                return work()
        except (PermissionDenied, AdminInputError, NotFound) as exc:
            return kit.notice(str(exc))
        except StoreError as exc:
            log.error("store error: %s", exc)
            return kit.notice(STORE_FAILURE)
        except Exception:
            log.exception("failed to handle a Slack request")
            return kit.notice(FAILURE)

    @staticmethod
    def send(reply: Reply, body: dict[str, Any]) -> None:
        """Send a reply, logging (not raising) when Slack refuses it. A reply through a
        response URL is retried like a Web API call (Bolt's own `respond` is not)."""
        if isinstance(reply, Respond) and reply.response_url:
            reply = webhook(reply.response_url, reply.proxy, reply.ssl).send_dict
        try:
            result = reply(body)
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("could not reply on Slack: %s", _api_error(exc))
            return
        status = getattr(result, "status_code", 200)
        if status != 200:
            log.warning("response_url answered %s: %s", status, getattr(result, "body", ""))

    def remember(self, answer_log_id: int | None, body: dict[str, Any]) -> None:
        """Keep what we sent, to redraw ephemeral answers after a feedback click."""
        if answer_log_id is not None:
            self.sent.put(answer_log_id, body)

    # --- the /strike command -------------------------------------------------------------

    def on_strike(
        self, ack: Callable[..., None], command: dict[str, Any], respond, client: WebClient
    ) -> None:
        """`/strike status|topics|sources|subscribe|unsubscribe|help|<question> [public]`."""
        ack()
        cmd = parse_strike(kit.question_from_slack(command.get("text")))
        if cmd.name in (SUBSCRIBE, UNSUBSCRIBE):
            body = self.subscription_reply(cmd, command, client)
            self.send(respond, {**body, "response_type": "ephemeral"})
            return
        public = cmd.public or cmd.name == "status"
        channel = command.get("channel_id")
        question = Question(
            cmd.text or cmd.name,
            platform="slack",
            user=command.get("user_id"),
            channel=_conversation(channel),
            private=not public,
            command=True,
        )
        answer, body = self.core_reply(cmd, question)
        if answer is not None:  # a notice (always answered: a command expects a reply)
            self.link_earlier(client, channel, answer)
            asked = cmd.text if cmd.name == ASK else None
            body = kit.answer_message(answer, asked=asked, feedback=cmd.name == ASK)
            self.remember(answer.log_id, body)
            public = public and not answer.private
        self.send(respond, {**body, "response_type": "in_channel" if public else "ephemeral"})

    def core_reply(self, cmd: Command, question: Question) -> tuple[Answer | None, dict]:
        """A `/strike` word or question through the core, within its limits: the answer
        (rendered by the caller, outside the core lock), or else the finished message
        (topics, sources, help; or the notice for a core failure)."""
        answer: Answer | None = None

        def work() -> dict[str, Any]:
            nonlocal answer
            if cmd.name == ASK:
                answer = self.bot.ask(question)
            elif cmd.name == "status":
                answer = self.bot.status(question, pack=cmd.args[0] if cmd.args else None)
            elif cmd.name == "timeline" and cmd.text:
                answer = self.bot.admit(question) or self.bot.timeline(
                    cmd.text, self.bot.pack_for(question)
                )
            else:
                answer = self.bot.admit(question)
                if answer is None:
                    return self.common_reply(cmd)
            return {}

        body = self.compute(work)
        return answer, body

    def link_earlier(self, client: WebClient, channel: str | None, answer: Answer) -> None:
        """A pointer to an earlier answer gets that message's permalink (chat.getPermalink);
        without one the pointer says to scroll up."""
        if answer.kind != REPEAT or answer.link or not answer.earlier or not channel:
            return
        try:
            found = client.chat_getPermalink(channel=channel, message_ts=answer.earlier)
        except (SlackApiError, URLError, OSError) as exc:
            log.info("chat.getPermalink failed: %s", _api_error(exc))
            return
        permalink = found.get("permalink")
        answer.link = permalink if isinstance(permalink, str) else None

    def subscription_reply(
        self, cmd: Command, command: dict[str, Any], client: WebClient
    ) -> dict[str, Any]:
        """`/strike subscribe|unsubscribe` for the channel it is typed in (admins only)."""
        user = command.get("user_id") or ""
        channel = command.get("channel_id") or ""
        if not self.is_admin(user, client):
            log.info("refused /strike %s for a non-admin", cmd.name)
            return kit.notice(SUBSCRIBE_REFUSAL)
        if not channel or channel.startswith("D"):
            return kit.notice(NOT_A_CHANNEL)
        actor = Actor(user, "slack", is_admin=True, name=command.get("user_name"))
        service = self.subscriptions

        def unsubscribe() -> dict[str, Any]:
            self.admin.require(actor)  # the admin rate
            return kit.notice(service.unsubscribe(actor, "slack", channel).message)

        if cmd.name == UNSUBSCRIBE:
            return self.compute(unsubscribe)
        checked: dict[str, bool] = {}

        def may_subscribe() -> dict[str, Any]:
            self.admin.require(actor)  # the admin rate
            checked["already"] = service.is_subscribed("slack", channel)
            return {}

        refused = self.compute(may_subscribe)
        if refused:
            return refused
        # A new subscription is confirmed in the channel first (outside the core lock):
        # a channel the bot cannot post in is never subscribed.
        if not checked["already"]:
            problem = self.confirm_in_channel(client, channel)
            if problem:
                return kit.notice(problem)
        return self.compute(lambda: kit.notice(service.subscribe(actor, "slack", channel).message))

    def confirm_in_channel(self, client: WebClient, channel: str) -> str | None:
        """Post the subscription's confirmation in the channel: this proves the bot can post
        there (it must be a member). None when posted, else what to tell the admin."""
        try:
            client.chat_postMessage(channel=channel, text=SUBSCRIBED_CONFIRMATION, **POST_OPTIONS)
        except SlackApiError as exc:
            code = _api_error(exc)
            log.info("could not post in channel %s to subscribe it: %s", channel, code)
            return CANNOT_POST.format(code=code)
        except (URLError, OSError) as exc:
            log.warning("could not reach Slack to subscribe channel %s: %s", channel, exc)
            return NO_CHECK
        return None

    def common_reply(self, cmd: Command) -> dict[str, Any]:
        """Replies shared by the slash command, mentions and DMs (status and questions go
        through `core_reply`)."""
        if cmd.name == "topics":
            return kit.topics_message(self.bot.topics())
        if cmd.name == "sources":
            return kit.sources_message(self.bot.sources())
        if cmd.name in (SUBSCRIBE, UNSUBSCRIBE):
            return kit.notice(f"Admins: type `/strike {cmd.name}` in the channel to do that.")
        return kit.help_message(cmd.problem)

    # --- mentions and direct messages ----------------------------------------------------

    def on_mention(self, event: dict[str, Any], context, client: WebClient) -> None:
        """`@strikebot question` in a channel: answer in a thread under the question."""
        if event.get("channel_type") == "im" or _not_a_person(event):
            return
        thread = event.get("thread_ts") or event.get("ts")
        self.converse(client, event, context.bot_user_id, thread)

    def on_message(self, event: dict[str, Any], context, client: WebClient) -> None:
        """A direct message to the bot: answer in the DM (in its thread, if any)."""
        if event.get("channel_type") != "im" or _not_a_person(event):
            return
        self.converse(client, event, context.bot_user_id, event.get("thread_ts"))

    def converse(
        self, client: WebClient, event: dict[str, Any], bot_user_id: str | None, thread: str | None
    ) -> None:
        """Answer one message (once, even if Slack delivers it as two events): the same
        words as `/strike` understands, else a question, within the core's limits. Nothing
        is posted for an ignored message; a notice for the asker alone is ephemeral; a
        posted answer is recorded (its ts) for repeats to point to."""
        channel = event.get("channel")
        if not channel or not self.seen.add(f"message:{channel}:{event.get('ts')}"):
            return
        text = kit.question_from_slack(event.get("text"), bot_user_id)
        user = event.get("user")
        direct = event.get("channel_type") == "im"
        cmd = parse_strike(text)
        question = Question(
            text, platform="slack", user=user, channel=None if direct else channel, thread=thread
        )
        answer, body = self.core_reply(cmd, question)
        if answer is not None:
            if answer.kind == IGNORED:
                return
            self.link_earlier(client, channel, answer)
            body = kit.answer_message(answer, feedback=cmd.name == ASK)
            if answer.private and not direct and user:
                self.whisper(client, channel, user, thread, body)
                return
        ts = self.post(client, channel, thread, body)
        if answer is not None and ts:
            self.bot.posted(answer, message=ts)

    def post(
        self, client: WebClient, channel: str, thread: str | None, body: dict[str, Any]
    ) -> str | None:
        """Post in the conversation (in `thread`, if any): the message's ts, or None when
        Slack refused it (logged)."""
        options = {"thread_ts": thread} if thread else {}
        try:
            result = client.chat_postMessage(channel=channel, **options, **POST_OPTIONS, **body)
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("could not reply on Slack: %s", _api_error(exc))
            return None
        ts = result.get("ts")
        return ts if isinstance(ts, str) else None

    def whisper(
        self, client: WebClient, channel: str, user: str, thread: str | None, body: dict
    ) -> None:
        """A notice only the asker sees, where they asked (in the thread, if any)."""
        options = {"thread_ts": thread} if thread else {}
        try:
            client.chat_postEphemeral(
                channel=channel, user=user, **options, **EPHEMERAL_OPTIONS, **body
            )
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("could not send a private notice on Slack: %s", _api_error(exc))

    # --- feedback buttons ----------------------------------------------------------------

    def on_feedback(
        self, ack: Callable[..., None], body: dict[str, Any], action: dict, respond
    ) -> None:
        """Record a Helpful / Not helpful click and swap the buttons for a thanks."""
        ack()
        helpful = action.get("action_id") == kit.ACTION_HELPFUL
        user = (body.get("user") or {}).get("id")
        try:
            log_id = int(action.get("value", ""))
        except ValueError:
            return
        recorded = True
        if self.votes.add(f"{log_id}:{user}"):
            result = self.compute(lambda: {"ok": self.bot.feedback(log_id, helpful, "slack", user)})
            recorded = bool(result.get("ok"))
        original = body.get("message") or self.sent.get(log_id) or {}
        if original.get("blocks"):
            blocks = kit.feedback_thanks(original["blocks"], helpful, recorded)
            text = original.get("text") or "Thanks for the feedback!"
            update = {"replace_original": True, "text": text, "blocks": blocks}
        else:
            update = {"response_type": "ephemeral", "replace_original": False}
            update["text"] = "Thanks for the feedback!"
        self.send(respond, update)

    # --- /strike-admin -------------------------------------------------------------------

    def on_admin(
        self, ack: Callable[..., None], command: dict[str, Any], respond, client: WebClient
    ) -> None:
        """`/strike-admin add|article|review|due|report|retract|restore|audit|unanswered|help`,
        for admins only."""
        ack()
        user = command.get("user_id") or ""
        cmd = parse_admin(kit.plain_from_slack(command.get("text")))
        if not self.is_admin(user, client):
            log.info("refused /strike-admin %s for a non-admin", cmd.name)
            self.send(respond, {**kit.notice(ADMIN_REFUSAL), "response_type": "ephemeral"})
            return
        if cmd.name == "add":
            self.open_add_modal(client, command, cmd, respond)
            return
        if cmd.name == "article":
            self.open_article_modal(client, command, cmd, respond)
            return
        actor = Actor(user, "slack", is_admin=True, name=command.get("user_name"))
        if cmd.name == "pack":
            channel = _conversation(command.get("channel_id"))
            wanted = cmd.args[0] if cmd.args else None
            body = self.compute(
                lambda: kit.notice(self.packs.channel_pack(actor, "slack", channel, wanted))
            )
        else:
            body = self.compute(lambda: self.admin_reply(cmd, actor))
        self.send(respond, {**body, "response_type": "ephemeral"})

    def admin_reply(self, cmd: Command, actor: Actor) -> dict[str, Any]:
        """The message for a parsed admin command (the core checks the permission again)."""
        if cmd.name == "retract":
            return kit.fact_message("Retracted", self.admin.retract(actor, cmd.args[0], cmd.text))
        if cmd.name == "restore":
            fact = self.admin.restore(actor, cmd.args[0], cmd.text or None)
            return kit.fact_message("Restored", fact)
        if cmd.name == "audit":
            fact_id = cmd.args[0] if cmd.args else None
            return kit.audit_message(self.admin.audit(actor, limit=cmd.limit, fact_id=fact_id))
        if cmd.name == "unanswered":
            return kit.unanswered_message(self.admin.unanswered(actor, limit=cmd.limit))
        if cmd.name == "review":
            return self.review_list()
        if cmd.name == "due":
            today = self.bot.today()
            return kit.due_message(
                due_facts(self.bot.store.facts(include_retracted=False), today), today
            )
        if cmd.name == "report":
            return kit.report_message(self.reports.build(actor, cmd.days))
        if cmd.name == "subscriptions":
            self.admin.require(actor)
            return kit.subscriptions_message(self.subscriptions.list())
        return kit.admin_help_message(cmd.problem)

    def open_modal(
        self, client: WebClient, trigger_id: str | None, view: dict, respond, again: str
    ) -> None:
        """Open a form (its trigger id is valid for 3 seconds), or say how to try again."""
        try:
            client.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("views.open failed: %s", _api_error(exc))
            message = f"Sorry, I couldn't open the form; please {again} again."
            self.send(respond, _private(kit.notice(message)))

    def open_add_modal(self, client: WebClient, command: dict, cmd: Command, respond) -> None:
        """Open the add-fact form (the trigger id is valid for 3 seconds)."""
        with self.core:
            topics = sorted(self.bot.store.topics())[:60]
        view = kit.add_fact_modal(today=self.bot.today(), text=cmd.text, topics=topics)
        self.open_modal(client, command.get("trigger_id"), view, respond, "run `/strike-admin add`")

    def on_add_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict, client: WebClient
    ) -> None:
        """The add-fact form was submitted: permission re-checked, then the core adds it."""
        user = (body.get("user") or {}).get("id") or ""
        fields = kit.read_add_fact_form((view.get("state") or {}).get("values") or {})
        actor = Actor(user, "slack", is_admin=self.is_admin(user, client))
        try:
            with self.core:
                fact = self.admin.add(
                    actor,
                    text=fields["fact_text"] or "",
                    topic=fields["fact_topic"] or "",
                    as_of=fields["fact_as_of"] or "",
                    source_title=fields["source_title"],
                    published=fields["source_published"],
                    url=fields["source_url"],
                )
        except PermissionDenied as exc:
            ack(response_action="update", view=kit.modal_notice("Not allowed", str(exc)))
            return
        except (AdminInputError, NotFound) as exc:
            errors = {kit.form_error_field(str(exc)): str(exc)}
            ack(response_action="errors", errors=errors)
            return
        except StoreError as exc:
            log.error("store error: %s", exc)
            ack(response_action="errors", errors={"fact_text": STORE_FAILURE})
            return
        ack(response_action="update", view=kit.fact_added_view(fact))

    # --- articles and the review queue ---------------------------------------------------

    def open_article_modal(self, client: WebClient, command: dict, cmd: Command, respond) -> None:
        """Open the article form; the channel is kept to reply there after submission."""
        metadata = json.dumps({"channel": command.get("channel_id") or ""})
        view = kit.article_modal(today=self.bot.today(), title=cmd.text, metadata=metadata)
        self.open_modal(
            client, command.get("trigger_id"), view, respond, "run `/strike-admin article`"
        )

    def on_article_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict, client: WebClient
    ) -> None:
        """The article form was submitted: permission re-checked, then the core stores the
        article and proposes its candidates; the admin is told how many, privately."""
        user = (body.get("user") or {}).get("id") or ""
        fields = kit.read_form(_state(view), kit.ARTICLE_FIELDS)
        actor = Actor(user, "slack", is_admin=self.is_admin(user, client), name=_username(body))
        title = fields["article_title"] or ""
        try:
            with self.core:
                _, items = self.review.add_article(
                    actor,
                    kit.article_text(fields),
                    title,
                    fields["article_published"] or "",
                    url=fields["article_url"],
                    publisher=fields["article_publisher"],
                )
        except PermissionDenied as exc:
            ack(response_action="update", view=kit.modal_notice("Not allowed", str(exc)))
            return
        except AdminInputError as exc:
            ack(response_action="errors", errors={kit.article_error_field(str(exc)): str(exc)})
            return
        except StoreError as exc:
            log.error("store error: %s", exc)
            ack(response_action="errors", errors={"article_text": STORE_FAILURE})
            return
        title = " ".join(title.split())
        ack(response_action="update", view=kit.article_added_view(title, len(items)))
        channel = _metadata(view).get("channel") or ""
        self.tell(client, user, channel, kit.article_added_message(title, len(items)))

    def tell(self, client: WebClient, user: str, channel: str, body: dict[str, Any]) -> None:
        """A message only `user` sees: ephemeral in `channel`, else a direct message."""
        if channel:
            try:
                client.chat_postEphemeral(channel=channel, user=user, **EPHEMERAL_OPTIONS, **body)
                return
            except (SlackApiError, URLError, OSError) as exc:
                log.info(
                    "chat.postEphemeral in %s failed (%s); sending a DM", channel, _api_error(exc)
                )
        try:
            client.chat_postMessage(channel=user, **POST_OPTIONS, **body)
        except (SlackApiError, URLError, OSError) as exc:
            log.warning("could not send a direct message on Slack: %s", _api_error(exc))

    def review_list(self, note: str | None = None) -> dict[str, Any]:
        """The pending candidates, with buttons (call with the core lock held)."""
        items = self.review.pending(limit=REVIEW_FETCH)
        return kit.review_message(items[: kit.REVIEW_SHOWN], len(items), note)

    def refresh_list(self, response_url: str | None, note: str) -> None:
        """Redraw the review list the buttons were in, after one of them did its work."""
        if not response_url or not response_url.startswith(("https://", "http://")):
            return
        body = self.compute(lambda: self.review_list(note))
        try:
            response = webhook(response_url).send_dict(
                {**body, "response_type": "ephemeral", "replace_original": True}
            )
        except (URLError, OSError) as exc:
            log.warning("could not redraw the review list: %s", _api_error(exc))
            return
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, response.body)

    def on_review_button(
        self, ack: Callable[..., None], body: dict[str, Any], action: dict, respond, client
    ) -> None:
        """Accept / Edit / Reject under a candidate: open its form (admins only)."""
        ack()
        user = (body.get("user") or {}).get("id") or ""
        if not self.is_admin(user, client):
            log.info("refused a review button for a non-admin")
            self.send(respond, _private(kit.notice(ADMIN_REFUSAL)))
            return
        try:
            candidate_id = int(action.get("value", ""))
        except ValueError:
            return
        try:
            with self.core:
                item = self.review.candidate(candidate_id)
        except NotFound as exc:
            self.send(respond, _private(kit.notice(str(exc))))
            return
        except StoreError as exc:
            log.error("store error: %s", exc)
            self.send(respond, _private(kit.notice(STORE_FAILURE)))
            return
        record = item.record
        if record.status != PENDING:
            note = closed_reason(record.id, record.status, record.fact_id, record.note)
            self.refresh_list(body.get("response_url"), note)
            return
        metadata = json.dumps({"candidate": candidate_id, "response_url": body.get("response_url")})
        if action.get("action_id") == kit.ACTION_REVIEW_REJECT:
            view = kit.reject_modal(item, metadata=metadata)
        else:
            accept = action.get("action_id") == kit.ACTION_REVIEW_ACCEPT
            view = kit.candidate_modal(
                item, accept=accept, today=self.bot.today(), metadata=metadata
            )
        self.open_modal(client, body.get("trigger_id"), view, respond, "press the button")

    def on_candidate_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict, client: WebClient
    ) -> None:
        """The Accept or Edit form was submitted: permission re-checked, then the core
        accepts the candidate as a fact (or saves the rewording)."""
        user = (body.get("user") or {}).get("id") or ""
        metadata = _metadata(view)
        candidate_id = _candidate_id(metadata)
        fields = kit.read_form(_state(view), kit.CANDIDATE_FIELDS)
        actor = Actor(user, "slack", is_admin=self.is_admin(user, client), name=_username(body))
        accept = view.get("callback_id") == kit.REVIEW_ACCEPT_CALLBACK
        text, topic, as_of = (fields[f] for f in kit.CANDIDATE_FIELDS)
        try:
            with self.core:
                if accept:
                    fact = self.review.accept(
                        actor, candidate_id, text=text or "", topic=topic, as_of=as_of
                    )
                    done = kit.accepted_view(candidate_id, fact)
                    note = f"Accepted candidate #{candidate_id} as fact {fact.id}."
                else:
                    record = self.review.candidate(candidate_id).record
                    old_as_of = record.as_of.isoformat() if record.as_of else None
                    item = self.review.edit(
                        actor,
                        candidate_id,
                        text=_changed(" ".join((text or "").split()), record.text),
                        topic=_changed(topic, local(record.topic)),
                        as_of=_changed(as_of, old_as_of),
                    )
                    done = kit.edited_view(item)
                    note = f"Saved candidate #{candidate_id}."
        except (PermissionDenied, AdminInputError, NotFound, StoreError) as exc:
            field = kit.candidate_error_field(str(exc))
            self.refuse_review_form(ack, exc, field, "candidate_text", metadata)
            return
        ack(response_action="update", view=done)
        self.refresh_list(metadata.get("response_url"), note)

    def refuse_review_form(
        self,
        ack: Callable[..., None],
        exc: Exception,
        field: str | None,
        store_field: str,
        metadata: dict[str, Any],
    ) -> None:
        """Answer a review form the core refused: a permission notice, an error on the
        field it concerns, a store failure, or a notice and a redrawn review list."""
        if isinstance(exc, PermissionDenied):
            ack(response_action="update", view=kit.modal_notice("Not allowed", str(exc)))
        elif isinstance(exc, StoreError):
            log.error("store error: %s", exc)
            ack(response_action="errors", errors={store_field: STORE_FAILURE})
        elif field:
            ack(response_action="errors", errors={field: str(exc)})
        else:
            ack(response_action="update", view=kit.modal_notice("Not done", str(exc)))
            self.refresh_list(metadata.get("response_url"), str(exc))

    def on_reject_submitted(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict, client: WebClient
    ) -> None:
        """The Reject form was submitted: permission re-checked, then the core rejects the
        candidate and keeps the reason."""
        user = (body.get("user") or {}).get("id") or ""
        metadata = _metadata(view)
        candidate_id = _candidate_id(metadata)
        reason = kit.read_form(_state(view), kit.REJECT_FIELDS)["reject_reason"] or ""
        actor = Actor(user, "slack", is_admin=self.is_admin(user, client), name=_username(body))
        try:
            with self.core:
                item = self.review.reject(actor, candidate_id, reason)
        except (PermissionDenied, AdminInputError, NotFound, StoreError) as exc:
            field = "reject_reason" if "reason" in str(exc).lower() else None
            self.refuse_review_form(ack, exc, field, "reject_reason", metadata)
            return
        ack(response_action="update", view=kit.rejected_view(item))
        self.refresh_list(metadata.get("response_url"), f"Rejected candidate #{item.id}.")


def webhook(url: str, proxy: str | None = None, ssl: Any = None) -> WebhookClient:
    """A client for a response URL, retrying as Web API calls do."""
    quiet_sdk_retries()
    return WebhookClient(url, timeout=10, proxy=proxy, ssl=ssl, retry_handlers=retry_handlers())


def _state(view: dict[str, Any]) -> dict[str, Any]:
    return (view.get("state") or {}).get("values") or {}


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    """What we put in the form's private_metadata (Slack hands it back as it was)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _candidate_id(metadata: dict[str, Any]) -> int:
    """The candidate a form is about (0, which no candidate has, when missing)."""
    value = metadata.get("candidate")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _changed(new: str | None, old: str | None) -> str | None:
    """The new value when it differs from the old one, else None (left unchanged)."""
    return new if new is not None and new != old else None


def _username(body: dict[str, Any]) -> str | None:
    user = body.get("user") or {}
    return user.get("username") or user.get("name")


def _private(body: dict[str, Any]) -> dict[str, Any]:
    """A reply through a button's response_url that only the clicker sees, leaving the
    message with the button as it was."""
    return {**body, "response_type": "ephemeral", "replace_original": False}


def _conversation(channel: str | None) -> str | None:
    """The channel for the core's limits: None for a direct message (a `D…` id)."""
    return None if not channel or channel.startswith("D") else channel


def _not_a_person(event: dict[str, Any]) -> bool:
    """Bot posts, edits, joins and other subtypes are not questions."""
    return bool(
        event.get("subtype")
        or event.get("bot_id")
        or event.get("edited")
        or event.get("hidden")
        or not event.get("user")
    )


def _api_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return str(getattr(exc, "reason", exc))


# --- status updates ---------------------------------------------------------------------


class SlackDelivery:
    """Posts queued status updates to subscribed Slack channels: one round now and then
    every `interval` seconds, on a daemon thread, until `stop` is set."""

    def __init__(self, bot: StrikeBot, client: WebClient, interval: float = 15.0):
        self.deliverer = Deliverer(bot.store)
        self.client = client
        self.interval = interval

    def post(self, channel: str, update: StatusUpdate) -> None:
        """One update to one channel; raises when Slack refuses it (it is retried later, and
        Slack's reason is kept for `subscriptions` to show)."""
        body = slack_update_message(update)
        try:
            self.client.chat_postMessage(channel=channel, **POST_OPTIONS, **body)
        except SlackApiError as exc:
            raise DeliveryFailed(f"Slack refused the post: {_api_error(exc)}") from None

    def run_once(self) -> dict[str, int]:
        """Send what is pending now; returns how many were sent and how many failed."""
        return self.deliverer.deliver_pending("slack", self.post)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except StoreError as exc:
                log.warning("status updates not delivered this round: %s", exc)
            except Exception:
                log.exception("delivering status updates to Slack failed")
            stop.wait(self.interval)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop,), name="slack-status-updates", daemon=True
        )
        thread.start()
        return thread


# --- building and running ---------------------------------------------------------------


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def require_token(value: SecretStr | None, name: str, prefix: str, what: str) -> str:
    """The token's value, or a one-line SystemExit naming the variable (never its value)."""
    token = _secret(value)
    if not token:
        raise SystemExit(
            f"{name} is not set: give the app's {what} (it starts with {prefix}; "
            "see deploy/SLACK.md)."
        )
    if not token.startswith(prefix) or any(ch.isspace() for ch in token):
        raise SystemExit(f"{name} does not look like the {what}: it should start with {prefix}.")
    return token


class _ServerErrors(ServerErrorRetryHandler):
    """slack_sdk's retries of 500 and 503, and of 502 from Slack's edge as well."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503)


class _RateLimits(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retries (after Retry-After seconds), unless Slack asks for a wait
    longer than a user would wait for an answer."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = {k.lower(): v for k, v in response.headers.items()}.get("retry-after") or ["1"]
        value = values[0] if isinstance(values, list | tuple) else values
        return str(value).strip().isdigit() and int(value) <= MAX_RETRY_AFTER_S


def retry_handlers() -> list[RetryHandler]:
    """How Web API calls and response URLs are retried: a dropped connection twice, a 429
    three times (after the Retry-After Slack gives, up to MAX_RETRY_AFTER_S), a 500, 502 or
    503 twice (after about 0.5-1.5 s, then 1-2 s). A retried post can appear twice if Slack
    had in fact taken the first one before failing; losing the answer is worse."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        _RateLimits(max_retry_count=3),
        _ServerErrors(max_retry_count=2),
    ]


SDK_LOGGERS = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")
SDK_ATTEMPT_FAILED = "Failed to send a request to Slack API server"


def _not_a_retried_attempt(record: logging.LogRecord) -> bool:
    # slack_sdk logs this ERROR for every attempt that fails, before its retry handlers
    # try again; the retry is expected, and a call that finally fails raises, which the
    # adapter logs as one WARNING.
    return not record.getMessage().startswith(SDK_ATTEMPT_FAILED)


def quiet_sdk_retries() -> None:
    """Drop slack_sdk's own line for each failed attempt (idempotent)."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if _not_a_retried_attempt not in logger.filters:
            logger.addFilter(_not_a_retried_attempt)


def make_client(token: str, api_url: str) -> WebClient:
    """A Web API client on SLACK_API_URL (Slack's own by default, or a fake/proxy), retrying
    rate limits, server errors and dropped connections (`retry_handlers`)."""
    quiet_sdk_retries()
    base = api_url if api_url.endswith("/") else api_url + "/"
    return WebClient(token=token, base_url=base, timeout=10, retry_handlers=retry_handlers())


def _not_about_the_token(record: logging.LogRecord) -> bool:
    # Bolt warns that SLACK_BOT_TOKEN from the environment is skipped when a client is
    # given; the client is built from that same token, so the warning is only noise.
    return "token" not in record.getMessage() or "client" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.adapters.slack.bolt")
    if _not_about_the_token not in logger.filters:
        logger.addFilter(_not_about_the_token)
    return logger


class StrikeApp(App):
    """The Bolt app, taking HTTP requests raw: their timestamp and signature are checked
    before Bolt parses anything of them, and a signed body that is not a Slack request is
    refused; every refusal is one log line and a 400 or 401, never a traceback."""

    verification: VerifiedOnce

    def handle_http(self, body: str, query: str, headers: dict[str, str]) -> BoltResponse:
        """One request as it came over HTTP (blocking: Bolt waits for the listener's ack)."""
        headers = {k.lower(): v for k, v in headers.items()}
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not self.verification.screen(body, timestamp, signature):
            return self.verification.refusal()
        try:
            request = BoltRequest(body=body, query=query, headers=headers)
        except Exception as exc:  # Bolt reads the body into its context as it builds this
            return _malformed(f"{type(exc).__name__}: {exc}")
        problem = _shape_problem(request.body)
        if problem:
            return _malformed(problem)
        return self.dispatch(request)


def _malformed(why: str) -> BoltResponse:
    log.warning("refused a signed Slack request that is not a Slack request: %s", why[:200])
    return BoltResponse(status=400, body=BAD_REQUEST)


def _shape_problem(body: Any) -> str | None:
    """Why a parsed body cannot be a Slack request Bolt can route, or None. Bolt assumes
    these shapes and raises (answering 500) on others."""
    if not isinstance(body, dict):
        return f"the body is {type(body).__name__}, not an object"
    for key in ("event", "team", "user", "channel", "enterprise", "view", "message", "container"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"{key} is {type(value).__name__}"
    for key in ("authorizations", "actions"):
        value = body.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            return f"{key} is not a list of objects"
    return None


def build_app(
    settings: Settings,
    bot: StrikeBot,
    admin: AdminService,
    *,
    client: WebClient | None = None,
    listener_executor: Executor | None = None,
) -> StrikeApp:
    """The Bolt app with every handler, used by HTTP mode, Socket Mode and the tests.

    Listeners run on `listener_executor` after the ack (Bolt's default: process after
    responding), which works the same over HTTP and Socket Mode. Without a signing secret
    (Socket Mode), HTTP requests are still verified against a random secret, so they all
    fail: only Socket Mode envelopes get through."""
    if client is None:
        token = require_token(settings.slack_bot_token, "SLACK_BOT_TOKEN", "xoxb-", BOT_TOKEN_NAME)
        client = make_client(token, settings.slack_api_url)
    signing_secret = _secret(settings.slack_signing_secret) or secrets.token_hex(32)
    verification = VerifiedOnce(signing_secret, guard_for(bot.store.path))
    app = StrikeApp(
        name="strikebot",
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        listener_executor=listener_executor
        or ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack"),
        logger=_bolt_logger(),
        # Bolt's signature check, replaced by the same check that also refuses a request
        # already accepted (a replay) and a malformed timestamp; see slack_replay.
        request_verification_enabled=False,
        before_authorize=verification,
    )
    app.verification = verification
    StrikeSlack(settings, bot, admin).register(app)
    return app


def _announce(line: str) -> None:
    """A start-up line for the person running the bot (stderr, like the CLI's messages)."""
    log.info(line)
    print(line, file=sys.stderr, flush=True)


def _check_bot_token(client: WebClient, api_url: str) -> None:
    try:
        client.auth_test()
    except SlackApiError as exc:
        raise PlatformError(f"Slack rejected SLACK_BOT_TOKEN: {_api_error(exc)}.") from None
    except (URLError, OSError) as exc:
        raise PlatformError(
            f"Cannot reach the Slack API at {api_url}: {_api_error(exc)}."
        ) from None


def _finish(executor: ThreadPoolExecutor, grace: float) -> bool:
    """Let the listeners already running (answers being posted) finish, for up to `grace`
    seconds; True when all did."""
    done = threading.Event()

    def wait() -> None:
        executor.shutdown(wait=True, cancel_futures=False)
        done.set()

    threading.Thread(target=wait, name="slack-drain", daemon=True).start()
    return done.wait(grace)


class SlackPlatform:
    """Slack as one platform of `strikebot run`: connect (Socket Mode with SLACK_APP_TOKEN,
    else HTTP mode on SLACK_PORT, served by uvicorn with /healthz and /readyz beside
    /slack/events), serve until stopped, then finish the requests in flight.

    Configuration problems raise PlatformConfigError; a rejected token or an unreachable
    API raises PlatformError (the supervisor retries it)."""

    name = "slack"

    def __init__(self, settings: Settings, bot: StrikeBot, *, port: int | None = None):
        self.settings = settings
        self.bot = bot
        self.port = settings.slack_port if port is None else port
        self.state = PlatformState(self.name)  # the supervisor's, once run by it
        self.health: HealthChecks | None = None  # every platform's, under `strikebot run`
        self._executor: ThreadPoolExecutor | None = None
        self._handler: Any = None
        self._server: SlackHTTPServer | None = None
        self._delivery_stop = threading.Event()

    def share_health(self, checks: HealthChecks) -> None:
        """Report these checks (all the platforms of `strikebot run`) on the HTTP port."""
        self.health = checks

    def _tokens(self) -> tuple[str, str]:
        try:
            token = require_token(
                self.settings.slack_bot_token, "SLACK_BOT_TOKEN", "xoxb-", BOT_TOKEN_NAME
            )
            app_token = ""
            if _secret(self.settings.slack_app_token):
                app_token = require_token(
                    self.settings.slack_app_token, "SLACK_APP_TOKEN", "xapp-", APP_TOKEN_NAME
                )
        except SystemExit as exc:
            raise PlatformConfigError(str(exc.code)) from None
        if not app_token and not _secret(self.settings.slack_signing_secret):
            raise PlatformConfigError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it (or set SLACK_APP_TOKEN "
                "for Socket Mode)."
            )
        return token, app_token

    def prepare(self, *, http_only: bool = False) -> tuple[App, WebClient, str]:
        """Check the tokens with Slack, build the Bolt app and start posting status
        updates (blocking). Returns the app, its client and the app-level token ("" for
        HTTP mode, always with `http_only`)."""
        token, app_token = self._tokens()
        if http_only:
            if not _secret(self.settings.slack_signing_secret):
                raise PlatformConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode needs it.")
            app_token = ""
        client = make_client(token, self.settings.slack_api_url)
        _check_bot_token(client, self.settings.slack_api_url)
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack")
        app = build_app(
            self.settings, self.bot, AdminService(self.bot), client=client,
            listener_executor=self._executor,
        )  # fmt: skip
        self._delivery_stop.clear()
        SlackDelivery(self.bot, client, self.settings.delivery_interval).start(self._delivery_stop)
        return app, client, app_token

    def connect(self) -> str:
        """Check the tokens and start serving (blocking); returns what is listening."""
        app, client, app_token = self.prepare()
        if app_token:
            return self._connect_socket_mode(app, app_token, client)
        return self._listen(app)

    def _connect_socket_mode(self, app: App, app_token: str, client: WebClient) -> str:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # A shorter ping than slack_sdk's 10 s: a cut connection is noticed (and replaced)
        # within seconds rather than most of a minute.
        handler = SocketModeHandler(
            app, app_token, web_client=client, ping_interval=SOCKET_PING_INTERVAL_S
        )
        try:
            handler.connect()
        except SlackApiError as exc:
            raise PlatformError(f"Slack rejected SLACK_APP_TOKEN: {_api_error(exc)}.") from None
        except (URLError, OSError) as exc:
            raise PlatformError(
                f"Cannot open a Socket Mode connection: {_api_error(exc)}."
            ) from None
        self._handler = handler
        return "Socket Mode"

    def _listen(self, app: App) -> str:
        health = self.health or HealthChecks(self.bot, [self.state])
        try:
            server = SlackHTTPServer(
                app, self.settings.slack_host, self.port,
                health=health, grace=self.settings.shutdown_grace,
            )  # fmt: skip
        except OSError as exc:
            raise PlatformError(f"Cannot listen on port {self.port}: {exc.strerror}.") from None
        threading.Thread(target=server.serve_forever, name="slack-http", daemon=True).start()
        self._server = server
        if not server.wait_started():
            raise PlatformError(f"The HTTP server on port {server.port} did not start.")
        return f"HTTP mode on port {server.port} at {EVENTS_PATH}"

    def connected(self) -> bool:
        """Slack's view right now: the Socket Mode connection is up, or HTTP is serving."""
        if self._handler is not None:
            return bool(self._handler.client.is_connected())
        return self._server is not None and self._server.serving

    def close(self, grace: float) -> bool:
        """Stop taking requests, let those in flight finish (up to `grace` s), stop the
        status updates. True when nothing was cut short."""
        if self._handler is not None:
            self._handler.close()
            self._handler = None
        if self._server is not None:
            self._server.shutdown(timeout=grace + 5)
            self._server.server_close()
            self._server = None
        finished = True
        if self._executor is not None:
            finished = _finish(self._executor, grace)
            if not finished:
                log.warning("Slack requests were still running after %.0f s; stopping", grace)
            self._executor = None
        self._delivery_stop.set()
        return finished

    async def run(self, stop: asyncio.Event, state: PlatformState) -> None:
        """Serve until `stop` is set (see supervisor.Platform)."""
        self.state = state
        try:
            state.detail = await asyncio.to_thread(self.connect)
            state.probe = self.connected
            state.set(CONNECTED)
            log.info("connected to Slack (%s)", state.detail)
            await stop.wait()
            state.set(STOPPING)
        finally:
            await asyncio.to_thread(self.close, self.settings.shutdown_grace)


def run_slack(
    settings: Settings,
    bot: StrikeBot,
    port: int | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """`strikebot slack`: only Slack, until stopped (Ctrl-C, SIGTERM, or `stop` set), then
    the answers in flight are finished. Any problem connecting ends it with a one-line
    SystemExit; `strikebot run` retries instead."""
    platform = SlackPlatform(settings, bot, port=port)
    try:
        detail = platform.connect()
    except PlatformError as exc:
        platform.close(0)
        raise SystemExit(str(exc)) from None
    platform.state.detail = detail
    platform.state.probe = platform.connected
    platform.state.set(CONNECTED)
    _announce(f"strikebot is connected to Slack ({detail}). Press Ctrl-C to stop.")
    stop = stop or threading.Event()
    restore = _stop_on_sigterm(stop)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        platform.state.set(STOPPING)
        platform.close(settings.shutdown_grace)
        restore()


def _stop_on_sigterm(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM sets `stop` (a graceful stop, as Ctrl-C); returns how to undo it. Nothing is
    changed off the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    return lambda: signal.signal(signal.SIGTERM, previous)
