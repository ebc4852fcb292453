"""Sessions resolved in the gateway (issue 19, item 1).

Each gateway process holds the sessions it has resolved with identity, by a hash of the token (never the token):
who, their memberships, the absolute limit and the idle clock. A request whose session is held costs identity
nothing; identity is asked again when the entry is older than EPEP_SESSION_CACHE_SECONDS (30 at most), when its
idle or absolute limit has passed (identity then refuses it with its own 401), or when nothing is held.

Why it is safe:
- identity publishes `identity.session.ended` and `identity.access.changed` (ids only) whenever a session ends or
  what a person's sessions carry changes. Every gateway process consumes them on a queue of its own and drops the
  entries at once, so a sign-out, deactivation or membership removal is refused on the next request;
- an entry lives 30 s at most, so an event lost anyway is bounded;
- entries are used only while the event queue is consuming. When the broker connection goes, everything held is
  dropped and every request asks identity, as before, until a new queue is consuming;
- an entry resolved while an event arrived is not kept (the answer may predate the change).

The queue is exclusive and auto-deleted: it lives as long as the process's connection, so a replica that dies
leaves nothing to pile up; messages expire after the cache's life and the queue is capped in length, since an
event older than every entry it could drop is worthless. No inbox (and no database): dropping an entry twice is
harmless, and a forged event could only make the gateway ask identity more often. Events arrive unacknowledged
(no_ack): a message lost with the connection is covered by dropping everything held when it goes.

The idle clock: identity restarts a session's clock only when it was last restarted `touch_after_seconds` ago
(store.py). The gateway mirrors that rule for the requests it answers from what it holds and sends identity those
restarts in a batch every EPEP_SESSION_TOUCH_FLUSH_SECONDS, off the request path (POST /sessions/touch), so a
person active through one gateway process is seen as active by another when it next asks identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from shared.api.sessions import MAX_TOUCHES, ResolvedSession, SessionTouch, SessionTouches
from shared.bus import Bus, connect
from shared.contracts import AccessChanged, Envelope, SessionEnded, event_type_of
from shared.internal_auth import Membership
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

SESSIONS_SERVED = Counter("epep_gateway_sessions_total",
                          "Session checks in the gateway: held (answered from what this process holds) or asked "
                          "(identity was asked)", ["outcome"])
SESSIONS_LISTENING = Gauge("epep_gateway_session_events_consuming",
                           "1 while this gateway process consumes identity's session events and so holds sessions; "
                           "0: every request asks identity")
EVENT_KEYS = {f"{t}.v{v}": model for model in (SessionEnded, AccessChanged) for t, v in [event_type_of(model)]}


def token_key(token: str) -> bytes:
    """What an entry is held under: the token's SHA-256, as identity stores it. The token itself is never kept."""
    return hashlib.sha256(token.encode()).digest()


@dataclass
class Held:
    """One resolved session. Times are Unix seconds, except held_until (this process's monotonic clock)."""

    session_id: str
    user_id: str
    memberships: list[Membership]
    expires_at: float
    idle_seconds: float
    seen_at: float  # identity's idle clock, as it stands once the touches sent are applied
    touch_after: float
    held_until: float

    def live(self, now: float, mono: float) -> bool:
        return mono < self.held_until and now < self.expires_at and now < self.seen_at + self.idle_seconds

    @classmethod
    def of(cls, session: ResolvedSession, held_until: float) -> Held:
        idle = float(session.idle_timeout_seconds)
        return cls(session_id=str(session.session_id), user_id=str(session.user_id),
                   memberships=[Membership(**m) for m in session.memberships],
                   expires_at=session.expires_at.timestamp(), idle_seconds=idle,
                   seen_at=session.idle_expires_at.timestamp() - idle, touch_after=session.touch_after_seconds,
                   held_until=held_until)


class SessionCache:
    """The sessions one gateway process holds, with the indexes the events need (by session, by user) and the
    idle-clock restarts waiting to go to identity. Plain dicts: one event loop, no locks."""

    def __init__(self, life_seconds: float, max_entries: int) -> None:
        self.life, self.max_entries = life_seconds, max_entries
        self._held: dict[bytes, Held] = {}  # insertion order is expiry order: every entry lives `life` seconds
        self._by_session: dict[str, bytes] = {}
        self._by_user: dict[str, set[bytes]] = {}
        self.touches: dict[str, float] = {}  # session id -> the latest request that restarts its clock
        self.generation = 0  # moves on every drop an event makes: an answer that straddles one is not kept

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: bytes, now: float, mono: float) -> Held | None:
        """The live entry for this token (None: ask identity). A request served from it restarts the idle clock
        as identity would, and that restart waits to be sent."""
        held = self._held.get(key)
        if held is None:
            return None
        if not held.live(now, mono):
            self._drop(key)
            return None
        if now - held.seen_at >= held.touch_after:
            held.seen_at = now
            self.touches[held.session_id] = now
        return held

    def put(self, key: bytes, held: Held, generation: int, now: float, mono: float) -> None:
        """Hold what identity answered (`held_until` set from this cache's life), unless an event came in since
        the question was asked."""
        if generation != self.generation or self.life <= 0 or not held.live(now, mono):
            return
        self._drop(key)
        self._sweep(mono)
        while len(self._held) >= self.max_entries:
            self._drop(next(iter(self._held)))
        self._held[key] = held
        self._by_session[held.session_id] = key
        self._by_user.setdefault(held.user_id, set()).add(key)

    def restarted(self, key: bytes, idle_expires_at: float) -> None:
        """identity restarted this session's idle clock itself ("Stay signed in")."""
        held = self._held.get(key)
        if held is not None:
            held.seen_at = max(held.seen_at, idle_expires_at - held.idle_seconds)

    # ---- what events and sign-outs drop -------------------------------------------------------------

    def drop_token(self, key: bytes) -> None:
        self.generation += 1
        self._drop(key)

    def drop_session(self, session_id: str) -> None:
        self.generation += 1
        if (key := self._by_session.get(session_id)) is not None:
            self._drop(key)

    def drop_user(self, user_id: str) -> None:
        self.generation += 1
        for key in list(self._by_user.get(user_id, ())):
            self._drop(key)

    def clear(self) -> None:
        self.generation += 1
        self._held.clear()
        self._by_session.clear()
        self._by_user.clear()

    def _drop(self, key: bytes) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        self._by_session.pop(held.session_id, None)
        keys = self._by_user.get(held.user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[held.user_id]

    def _sweep(self, mono: float) -> None:
        """Drop entries past their life from the front (the oldest), so a process holds only live ones."""
        for key in list(self._held):
            if self._held[key].held_until > mono:
                break
            self._drop(key)

    # ---- idle-clock restarts waiting for identity ----------------------------------------------------

    def take_touches(self) -> SessionTouches | None:
        if not self.touches:
            return None
        batch = list(self.touches.items())[:MAX_TOUCHES]
        for session_id, _ in batch:
            del self.touches[session_id]
        return SessionTouches(touches=[SessionTouch(session_id=uuid.UUID(s), at=datetime.fromtimestamp(at, UTC))
                                       for s, at in batch])

    def give_back(self, batch: SessionTouches) -> None:
        """A batch identity did not take: send it with the next (the later restart wins)."""
        for touch in batch.touches:
            session_id, at = str(touch.session_id), touch.at.timestamp()
            self.touches[session_id] = max(at, self.touches.get(session_id, 0.0))

    # ---- events -------------------------------------------------------------------------------------

    def apply(self, event: SessionEnded | AccessChanged) -> None:
        if isinstance(event, SessionEnded):
            if event.session_id is not None:
                self.drop_session(str(event.session_id))
            else:
                self.drop_user(str(event.user_id))
        elif event.user_id is None:
            self.clear()
        else:
            self.drop_user(str(event.user_id))


class Sessions:
    """The cache, the queue that keeps it honest and the batches of idle-clock restarts, for one process."""

    def __init__(self, settings: ServiceSettings, life_seconds: float, max_entries: int,
                 flush_seconds: float) -> None:
        self.settings, self.flush_seconds = settings, flush_seconds
        self.cache = SessionCache(life_seconds, max_entries)
        self.listening = False  # entries are used only while the event queue is consuming
        self._inflight: dict[bytes, asyncio.Future[Held]] = {}
        self._stopping = asyncio.Event()
        self._connections = 0
        self._consumed = False  # whether the current connection got as far as consuming

    @property
    def enabled(self) -> bool:
        return self.cache.life > 0

    async def resolve(self, token: str, ask: Callable[[], Awaitable[ResolvedSession]]) -> Held:
        """The session for this token: held, or asked of identity (its 401 raised as it is). Concurrent
        requests with one token that is not held share one question. With a life of 0, every request asks, as
        before sessions were held here."""
        if not self.enabled:
            SESSIONS_SERVED.labels("asked").inc()
            return Held.of(await ask(), 0.0)
        key = token_key(token)
        if self.listening:
            held = self.cache.get(key, time.time(), time.monotonic())
            if held is not None:
                SESSIONS_SERVED.labels("held").inc()
                return held
        SESSIONS_SERVED.labels("asked").inc()
        future = self._inflight.get(key)
        if future is None or future.done():
            future = asyncio.ensure_future(self._ask_and_hold(key, ask))
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(future)

    def _forget(self, key: bytes, done: asyncio.Future[Held]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: a 401 whose requests have all gone is not an error to log

    async def _ask_and_hold(self, key: bytes, ask: Callable[[], Awaitable[ResolvedSession]]) -> Held:
        generation = self.cache.generation
        held = Held.of(await ask(), time.monotonic() + self.cache.life)
        if self.listening:
            self.cache.put(key, held, generation, time.time(), time.monotonic())
        return held

    # ---- the event queue ----------------------------------------------------------------------------

    async def listen(self) -> None:
        """Consume identity's session events on a queue of this process's own, for as long as it runs; when the
        connection goes, drop everything held and connect again (to the next node that answers)."""
        backoff = 0.5
        while not self._stopping.is_set():
            self._consumed = False
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("session events not consumed: every request asks identity until they are",
                            extra={"error": type(exc).__name__, "backoff_s": backoff})
            finally:
                self._stop_holding()
            if self._consumed:  # it worked until now: try again soon
                backoff = 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            backoff = min(backoff * 2, 10.0)

    async def _listen_once(self) -> None:
        connection = await connect(self.settings,
                                   client_properties={"connection_name": "epep-gateway-sessions"})
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        try:
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_: closed.set())
            queue = await channel.declare_queue(self._queue_name(), exclusive=True, auto_delete=True, arguments={
                "x-message-ttl": int(max(self.cache.life, 1) * 1000), "x-max-length": 10_000})
            exchange = Bus(self.settings, "gateway").exchange_name
            for routing_key in EVENT_KEYS:
                await queue.bind(exchange, routing_key=routing_key)
            await queue.consume(self._on_message, no_ack=True)
            # Anything held before this queue existed may have missed an event: start empty.
            self.cache.clear()
            self.listening = self._consumed = True
            SESSIONS_LISTENING.set(1)
            log.info("session events consumed: sessions are held", extra={"queue": queue.name})
            stop = asyncio.ensure_future(self._stopping.wait())
            lost = asyncio.ensure_future(closed.wait())
            try:
                await asyncio.wait({stop, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                lost.cancel()
            if lost.done() and not self._stopping.is_set():
                raise ConnectionError("the broker connection or channel closed")
        finally:
            self._stop_holding()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=self.settings.bus_publish_timeout)

    def _stop_holding(self) -> None:
        self.listening = False
        SESSIONS_LISTENING.set(0)
        self.cache.clear()

    def _queue_name(self) -> str:
        """A name of this process's own, new for each connection (an exclusive queue of a connection the broker
        has not yet seen die still holds the old one). Host and pid say whose it is."""
        self._connections += 1
        return f"{self.settings.bus_prefix}gateway.sessions.{socket.gethostname()}.{os.getpid()}.{self._connections}"

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        model = EVENT_KEYS.get(message.routing_key or "")
        try:
            envelope = Envelope.model_validate_json(message.body)
            if model is None or envelope.producer != "identity":
                raise ValueError("not one of identity's session events")
            event = model.model_validate(envelope.data)
        except (ValidationError, ValueError):
            # Not what we bound to: to be safe, hold nothing that it might have been about.
            log.error("session event not understood: every held session dropped",
                      extra={"message_id": message.message_id})
            self.cache.clear()
            return
        self.cache.apply(event)

    # ---- idle-clock restarts ------------------------------------------------------------------------

    async def send_touches(self, send: Callable[[SessionTouches], Awaitable[None]]) -> None:
        """Every flush_seconds, the idle-clock restarts of the requests served from what is held, in one call."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.flush_seconds)
            await self.flush(send)

    async def flush(self, send: Callable[[SessionTouches], Awaitable[None]]) -> None:
        batch = self.cache.take_touches()
        if batch is None:
            return
        try:
            await send(batch)
        except Exception as exc:  # identity away: keep them for the next batch
            self.cache.give_back(batch)
            log.warning("idle-clock restarts not sent to identity; kept for the next batch",
                        extra={"sessions": len(batch.touches), "error": type(exc).__name__})

    def stop(self) -> None:
        self._stopping.set()
