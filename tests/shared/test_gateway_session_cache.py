"""The gateway's session cache as plain data (services/gateway/sessions.py): what it holds, for how long, what
events drop, and which requests restart identity's idle clock. The whole of it against real identity, RabbitMQ
and two gateway processes is tests/system/test_sessions_in_gateway.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.gateway.sessions import Held, SessionCache, token_key
from shared.api.sessions import ResolvedSession
from shared.contracts import AccessChanged, SessionEnded

NOW = 1_800_000_000.0  # wall clock (Unix seconds)
MONO = 1_000.0  # this process's monotonic clock
LIFE = 30.0


def _resolved(user: uuid.UUID | None = None, *, idle: int = 1200, seen_ago: float = 0.0,
              expires_in: float = 3600.0, touch_after: float = 60.0) -> ResolvedSession:
    return ResolvedSession(
        session_id=uuid.uuid4(), user_id=user or uuid.uuid4(),
        expires_at=datetime.fromtimestamp(NOW + expires_in, UTC),
        idle_expires_at=datetime.fromtimestamp(NOW - seen_ago + idle, UTC), idle_timeout_seconds=idle,
        warning_seconds=120, touch_after_seconds=touch_after,
        memberships=[{"organisation_id": str(uuid.uuid4()), "organisation_type": "local_authority",
                      "role": "vs_caseworker"}])


def _held(cache: SessionCache, token: str, session: ResolvedSession) -> bytes:
    key = token_key(token)
    cache.put(key, Held.of(session, MONO + cache.life), cache.generation, NOW, MONO)
    return key


def test_the_key_is_a_hash_of_the_token_never_the_token() -> None:
    key = token_key("a-session-token")
    assert len(key) == 32 and b"a-session-token" not in key


def test_an_entry_serves_for_its_life_and_no_longer() -> None:
    cache = SessionCache(LIFE, 100)
    key = _held(cache, "t", _resolved())
    held = cache.get(key, NOW + 29, MONO + 29)
    assert held is not None and held.memberships[0].role == "vs_caseworker"
    assert cache.get(key, NOW + 30, MONO + 30) is None  # asked of identity again
    assert len(cache) == 0


def test_past_its_idle_or_absolute_limit_it_is_not_served() -> None:
    """identity is asked instead, and answers with its own 401."""
    cache = SessionCache(LIFE, 100)
    idle_key = _held(cache, "idle", _resolved(idle=300, seen_ago=290, touch_after=15))
    assert cache.get(idle_key, NOW + 9, MONO + 9) is not None  # restarts the clock: due (290 s > 15 s)
    assert cache.get(idle_key, NOW + 9 + 300, MONO + 29.5) is None  # no request for the 300 s since
    quiet = _held(cache, "quiet", _resolved(idle=300, seen_ago=290, touch_after=15))
    assert cache.get(quiet, NOW + 10, MONO + 10) is None  # idle since before it was held
    expiring = _held(cache, "absolute", _resolved(expires_in=5))
    assert cache.get(expiring, NOW + 4, MONO + 4) is not None
    assert cache.get(expiring, NOW + 5, MONO + 5) is None


def test_requests_restart_the_idle_clock_as_identity_would_and_wait_to_be_sent() -> None:
    cache = SessionCache(LIFE, 100)
    session = _resolved(seen_ago=0, touch_after=60)
    key = _held(cache, "t", session)
    assert cache.get(key, NOW + 10, MONO + 10) is not None
    assert cache.take_touches() is None  # identity would not write a restart 10 s after the last
    cache.get(key, NOW + 61, MONO + 20)
    cache.get(key, NOW + 62, MONO + 21)  # not due again: 1 s after the restart above
    batch = cache.take_touches()
    assert batch is not None and [(t.session_id, t.at.timestamp()) for t in batch.touches] == \
        [(session.session_id, NOW + 61)]
    assert cache.take_touches() is None
    cache.give_back(batch)  # identity was away: the batch goes again with the next
    again = cache.take_touches()
    assert again is not None and len(again.touches) == 1


def test_stay_signed_in_moves_the_mirrored_clock_on() -> None:
    cache = SessionCache(LIFE, 100)
    key = _held(cache, "t", _resolved(idle=300, seen_ago=295, touch_after=15))
    cache.restarted(key, NOW + 300)
    assert cache.get(key, NOW + 100, MONO + 1) is not None


def test_events_drop_one_session_a_persons_sessions_or_everything() -> None:
    cache = SessionCache(LIFE, 100)
    user, other = uuid.uuid4(), uuid.uuid4()
    first, second = _resolved(user), _resolved(user)
    keys = [_held(cache, "a", first), _held(cache, "b", second), _held(cache, "c", _resolved(other))]
    cache.apply(SessionEnded(user_id=user, session_id=first.session_id))
    assert [cache.get(k, NOW, MONO) is not None for k in keys] == [False, True, True]
    cache.apply(AccessChanged(user_id=user, reason="user_changed"))
    assert [cache.get(k, NOW, MONO) is not None for k in keys] == [False, False, True]
    cache.apply(AccessChanged(user_id=None, reason="session_rules_changed"))
    assert len(cache) == 0


def test_an_answer_that_straddles_an_event_is_not_kept() -> None:
    """identity answered before the change, the event arrived before the answer: holding it would undo the drop."""
    cache = SessionCache(LIFE, 100)
    asked_at = cache.generation
    cache.apply(SessionEnded(user_id=uuid.uuid4()))
    key = token_key("t")
    cache.put(key, Held.of(_resolved(), MONO + LIFE), asked_at, NOW, MONO)
    assert cache.get(key, NOW, MONO) is None


def test_it_holds_at_most_its_size_dropping_the_oldest() -> None:
    cache = SessionCache(LIFE, 2)
    keys = [_held(cache, token, _resolved()) for token in ("a", "b", "c")]
    assert len(cache) == 2 and cache.get(keys[0], NOW, MONO) is None and cache.get(keys[2], NOW, MONO) is not None


def test_a_life_of_zero_holds_nothing() -> None:
    cache = SessionCache(0, 100)
    assert cache.get(_held(cache, "t", _resolved()), NOW, MONO) is None
