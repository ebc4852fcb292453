"""notify end to end on real Postgres and RabbitMQ: an event in an outbox becomes exactly one email per person.

The only stand-in is the outside world's mail server: the development mail sink, run in-process on a free
port and storing what it receives in a Maildir under the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local.mailsink import MaildirHandler
from services.notify import directory, sending, task_notices
from services.notify.consumers import subscriptions_for
from services.notify.settings import NotifySettings
from shared import contracts, db
from shared.bus import Bus, Consumers, OutboxRelay, add_event, delete_topology
from shared.migrate import ensure_database, migrate
from tests.conftest import PG_HOST, PG_PORT, drop_database
from tests.notify import samples
from tests.support.mailbox import Mailbox

SERVICE = "notify"
MIGRATIONS = Path(__file__).parents[2] / "services" / "notify" / "migrations"


@pytest.fixture(scope="module")
def notify_database() -> Iterator[str]:
    """A fresh database for this module's tests, dropped afterwards."""
    name = f"epep_notify_{secrets.token_hex(4)}"
    yield name
    asyncio.run(drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", name))


class MailSink(MaildirHandler):
    """The development mail sink, able to say "try again later" to chosen recipients, once each."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self.busy_once: set[str] = set()
        self.busy_times: dict[str, int] = {}  # an address turned away this many times more

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        busy = self.busy_once & set(envelope.rcpt_tos)
        if busy:
            self.busy_once -= busy
            return "451 4.3.0 Mailbox busy, try again later"
        for address in envelope.rcpt_tos:
            if self.busy_times.get(address, 0) > 0:
                self.busy_times[address] -= 1
                return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Notify:
    settings: NotifySettings
    pool: asyncpg.Pool
    bus: Bus
    sink: MailSink
    mailbox: Mailbox

    async def publish(self, *events: contracts.EventData) -> list[contracts.Envelope]:
        """As identity does: into the outbox in a transaction, then the relay publishes it."""
        async with self.pool.acquire() as conn, conn.transaction():
            envelopes = [await add_event(conn, "identity", event, tenant="northshire") for event in events]
        assert await OutboxRelay(self.pool, self.bus, self.settings, SERVICE).publish_batch() == len(events)
        return envelopes

    async def redeliver(self, envelope: contracts.Envelope) -> None:
        """The very same message again, as RabbitMQ does after a lost acknowledgement."""
        await self.bus.publish(envelope.model_dump(mode="json"), envelope.routing_key, {})

    async def handled(self, consumer: str, envelope: contracts.Envelope, timeout: float = 15.0) -> None:
        """Wait until the consumer has recorded the event as done (all its emails' outcomes are final)."""
        await eventually(lambda: self._in_inbox(consumer, envelope), timeout, f"{consumer} to handle the event")

    async def _in_inbox(self, consumer: str, envelope: contracts.Envelope) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2",
                                             consumer, envelope.event_id))

    def mail(self, to: str) -> list[EmailMessage]:
        return self.mailbox.messages(to)

    async def deliveries(self, envelope: contracts.Envelope) -> list[tuple[str, str, str, int]]:
        rows = await self.pool.fetch("SELECT recipient, template, status, attempts FROM deliveries "
                                     "WHERE event_id = $1 ORDER BY created_at, recipient", envelope.event_id)
        return [(r["recipient"], r["template"], r["status"], r["attempts"]) for r in rows]


@pytest.fixture
async def notify(tmp_path: Path, notify_database: str) -> AsyncIterator[Notify]:
    loop = asyncio.get_running_loop()
    sink = MailSink(tmp_path / "mail")
    smtp = await loop.create_server(lambda: SMTP(sink, hostname="mailsink.local"), "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    prefix = f"nt{secrets.token_hex(3)}."
    settings = NotifySettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=notify_database, bus_prefix=prefix,
                              bus_retry_delays=[0.2, 0.5, 1.0], bus_delivery_limit=5, environment="test",
                              smtp_port=smtp_port, smtp_timeout=5, portal_url="https://epep.northshire.test")
    await ensure_database(settings)
    await migrate(settings, SERVICE, MIGRATIONS, ("bus", "users"))
    pool = await db.create_pool(settings, SERVICE)
    bus = Bus(settings, SERVICE)
    await bus.connect()
    subscriptions = subscriptions_for(settings)
    consumers = Consumers(bus, pool, settings)
    try:
        await consumers.start(subscriptions)
        yield Notify(settings, pool, bus, sink, Mailbox(tmp_path / "mail"))
    finally:
        await consumers.stop(timeout=5)
        await bus.close()
        await pool.close()
        smtp.close()
        await smtp.wait_closed()
        await delete_topology(settings, [s.name for s in subscriptions])


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "it") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return body.get_content()


FOOTER = "This email was sent by ePEP on behalf of your Virtual School."
SETTLE = 0.5  # long enough for a redelivered message to be consumed, were it going to send anything


# ---- each event type --------------------------------------------------------------------------------------


async def test_an_invitation_is_emailed_once_however_often_it_is_delivered(notify: Notify) -> None:
    event = samples.invitation("sam@example.test", role="vs_caseworker")
    [envelope] = await notify.publish(event)
    await notify.handled("notify.invitations", envelope)
    [message] = notify.mail("sam@example.test")
    assert message["Subject"] == "You have been invited to use ePEP"
    text = text_of(message)
    assert "Vic Admin has invited you to use ePEP as a Virtual School caseworker for Northshire Council." in text
    assert f"https://epep.northshire.test/invitations/{event.token}" in text
    assert "expires on Monday 7 December 2026 at 4:30pm" in text
    assert f"{FOOTER} Northshire Virtual School Email: virtual.school@northshire.test Phone: 01632 960 001" in text
    assert f'href="https://epep.northshire.test/invitations/{event.token}"' in html_of(message)

    # At-least-once delivery: the same message again is stopped by the inbox...
    await notify.redeliver(envelope)
    await asyncio.sleep(SETTLE)
    assert len(notify.mail("sam@example.test")) == 1
    # ...and had the first delivery died after sending but before recording the event, the delivery's
    # status guard still stops a second email.
    await notify.pool.execute("DELETE FROM inbox WHERE event_id = $1", envelope.event_id)
    await notify.redeliver(envelope)
    await notify.handled("notify.invitations", envelope)
    assert len(notify.mail("sam@example.test")) == 1
    assert await notify.deliveries(envelope) == [("sam@example.test", "invitation", "sent", 1)]


async def test_each_address_code_goes_out_in_its_own_words_with_the_code_only_in_the_body(notify: Notify) -> None:
    subjects = {"verify_registration": "Confirm your email address for ePEP",
                "change_email": "Confirm your new email address for ePEP",
                "reset_password": "Reset your ePEP password"}
    events = {purpose: samples.email_code(purpose, f"{purpose}@example.test") for purpose in subjects}
    envelopes = await notify.publish(*events.values())
    for envelope in envelopes:
        await notify.handled("notify.email_codes", envelope)
    for purpose, subject in subjects.items():
        [message] = notify.mail(f"{purpose}@example.test")
        assert message["Subject"] == subject
        assert "8765 4321" in text_of(message) and "8765" not in message["Subject"]
        assert notify.mailbox.codes(f"{purpose}@example.test") == ["8765 4321"]
        assert "It works for 10 minutes and only once." in text_of(message)
    assert ("If you did not ask to reset your password, you can ignore this email; your password has not changed"
            in text_of(notify.mail("reset_password@example.test")[0]))


async def test_a_new_sign_in_is_told_straight_away(notify: Notify) -> None:
    [envelope] = await notify.publish(samples.signed_in("lee@example.test"))
    await notify.handled("notify.new_sign_ins", envelope)
    [message] = notify.mail("lee@example.test")
    assert message["Subject"] == "New sign-in to your ePEP account"
    assert ("You signed in to ePEP on Monday 7 December 2026 at 4:30pm. "
            "If this was not you, reset your password now and tell your Virtual School.") in text_of(message)
    assert text_of(message).endswith(FOOTER)


async def test_a_password_change_is_told_to_the_account_holder(notify: Notify) -> None:
    [envelope] = await notify.publish(samples.password_changed("ash@example.test"))
    await notify.handled("notify.account_changes", envelope)
    [message] = notify.mail("ash@example.test")
    assert message["Subject"] == "Your ePEP password has been changed"
    assert "was changed on Monday 7 December 2026 at 4:30pm" in text_of(message)
    assert "Reset your password: https://epep.northshire.test/forgotten-password" in text_of(message)


async def test_an_email_change_is_told_to_both_addresses_once_each(notify: Notify) -> None:
    [envelope] = await notify.publish(samples.email_changed("old.jo@example.test", "new.jo@example.test"))
    await notify.handled("notify.account_changes", envelope)
    await notify.redeliver(envelope)
    await asyncio.sleep(SETTLE)
    for address in ("old.jo@example.test", "new.jo@example.test"):
        [message] = notify.mail(address)
        assert message["Subject"] == "The email address for your ePEP account has been changed"
        assert ("changed from old.jo@example.test to new.jo@example.test on Monday 7 December 2026 at 4:30pm"
                in text_of(message))
    assert sorted(await notify.deliveries(envelope)) == [("new.jo@example.test", "email_changed", "sent", 1),
                                                         ("old.jo@example.test", "email_changed", "sent", 1)]


async def test_the_sign_in_code_still_arrives(notify: Notify) -> None:
    [envelope] = await notify.publish(samples.sign_in_code("dana@example.test"))
    await notify.handled("notify.sign_in_code", envelope)
    [message] = notify.mail("dana@example.test")
    assert message["Subject"] == "Your ePEP sign-in code"
    assert notify.mailbox.codes("dana@example.test") == ["1234 5678"]


# ---- when things go wrong ---------------------------------------------------------------------------------


async def test_an_address_the_mail_server_turns_away_for_now_is_retried_without_resending_the_other(
        notify: Notify) -> None:
    notify.sink.busy_once.add("new.max@example.test")
    [envelope] = await notify.publish(samples.email_changed("old.max@example.test", "new.max@example.test"))
    await notify.handled("notify.account_changes", envelope)
    assert len(notify.mail("old.max@example.test")) == 1
    assert len(notify.mail("new.max@example.test")) == 1
    assert sorted(await notify.deliveries(envelope)) == [("new.max@example.test", "email_changed", "sent", 2),
                                                         ("old.max@example.test", "email_changed", "sent", 1)]


async def test_an_event_notify_cannot_word_is_dead_lettered_and_sends_nothing(notify: Notify) -> None:
    [envelope] = await notify.publish(samples.email_code("something_new", "odd@example.test"))
    message = await next_dead_letter(notify, "notify.email_codes")
    assert str(envelope.event_id) in message.body.decode()
    assert notify.mail("odd@example.test") == []
    assert await notify.deliveries(envelope) == []


async def next_dead_letter(notify: Notify, consumer: str, timeout: float = 10.0
                           ) -> aio_pika.abc.AbstractIncomingMessage:
    channel = notify.bus.consume_channel
    assert channel is not None
    dlq = await channel.declare_queue(f"{notify.settings.bus_prefix}{consumer}.dlq", passive=True)
    deadline = asyncio.get_running_loop().time() + timeout
    while (message := await dlq.get(fail=False)) is None:
        assert asyncio.get_running_loop().time() < deadline, "nothing was dead-lettered"
        await asyncio.sleep(0.05)
    await message.ack()
    return message


async def sign_in_being_sent(notify: Notify, address: str) -> contracts.Envelope:
    """A new sign-in's event whose email another worker has just claimed and is sending."""
    envelope = contracts.Envelope(event_type="identity.session.started", version=1, producer="identity",
                                  data=samples.signed_in(address).model_dump(mode="json"))
    await notify.pool.execute(
        "INSERT INTO deliveries (id, event_id, recipient, template, subject, status, attempts, sending_at) "
        "VALUES ($1, $2, $3, 'new_sign_in', 's', 'sending', 1, now())", uuid.uuid4(), envelope.event_id, address)
    return envelope


async def test_a_redelivery_racing_a_send_in_progress_waits_for_its_outcome(notify: Notify) -> None:
    # A delivery another worker has just claimed and is sending: the redelivery must not record the event
    # as done (that worker may yet fail), so it retries until the outcome is known.
    envelope = await sign_in_being_sent(notify, "rae@example.test")
    await notify.redeliver(envelope)
    await asyncio.sleep(SETTLE)
    assert notify.mail("rae@example.test") == []
    assert not await notify._in_inbox("notify.new_sign_ins", envelope)
    # The other worker finishes: the retry now sees a final outcome and records the event, sending nothing.
    await notify.pool.execute("UPDATE deliveries SET status = 'sent' WHERE event_id = $1", envelope.event_id)
    await notify.handled("notify.new_sign_ins", envelope)
    assert notify.mail("rae@example.test") == []


async def test_a_redelivery_that_meets_the_other_workers_failure_still_sends_the_email(
        notify: Notify, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two copies of one event at once (a redelivery after a broker fault): the other worker holds the delivery,
    so this copy's claim fails; before it asks why, that worker's send fails for now and leaves the row in
    temporary_failure. Read as "done", the event was recorded and the other worker's retry then skipped it: the
    email was never sent (make chaos on the cluster, a sign-in code left in temporary_failure)."""
    envelope = await sign_in_being_sent(notify, "ola@example.test")
    real_claim = sending.claim
    raced: list[bool] = []

    async def claim_then_the_other_fails(pool: asyncpg.Pool, delivery_id: uuid.UUID, lease: int) -> bool:
        claimed = await real_claim(pool, delivery_id, lease)
        if not claimed and not raced:  # the other worker's send fails for now, just after this claim
            raced.append(True)
            await sending.mark(pool, delivery_id, "temporary_failure", "SMTPServerDisconnected")
        return claimed

    monkeypatch.setattr(sending, "claim", claim_then_the_other_fails)
    await notify.redeliver(envelope)
    await notify.handled("notify.new_sign_ins", envelope)
    assert raced
    assert len(notify.mail("ola@example.test")) == 1
    assert [status for _, _, status, _ in await notify.deliveries(envelope)] == ["sent"]


async def test_two_changes_of_one_meeting_handled_at_once_each_decide_once_and_leave_nothing_unsent(
        notify: Notify, monkeypatch: pytest.MonkeyPatch) -> None:
    """A meeting saved twice in quick succession, both changes handled at once while the mail server turns the
    invitee away. Each change decides its emails from the versions recorded before it; when both read "none
    yet" and then both recorded theirs, the later one's retry decided again against the earlier one (an update
    now, not an invitation), and its first invitation was left unsent for ever (make chaos: 8 meeting emails in
    temporary_failure). The decision is taken once per change, one change of a PEP at a time."""
    pep_id, child_id, la_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await notify.pool.execute("INSERT INTO children (id, version, la_id, given_name, family_name) VALUES "
                              "($1, 1, $2, 'Jordan', 'Example')", child_id, la_id)
    carer = "kit.carer@example.test"
    notify.sink.busy_times[carer] = 2  # both changes' first attempts
    real_people_with_role = directory.people_with_role

    async def slowly(*args: Any) -> list[Any]:  # widens the moment between reading the versions and recording
        await asyncio.sleep(0.3)
        return await real_people_with_role(*args)

    monkeypatch.setattr(directory, "people_with_role", slowly)
    invitees = [contracts.MeetingInvitee(name="Kit Carer", email=carer, role="carer")]
    changes = [contracts.PepMeetingChanged(pep_id=pep_id, child_id=child_id, la_id=la_id, setting_id=None,
                                           change="scheduled" if n == 0 else "moved", meeting_date=day,
                                           meeting_time="15:30", location="Room 4", sequence=n, invitees=invitees)
               for n, day in enumerate([date(2026, 12, 1), date(2026, 12, 3)])]
    async with notify.pool.acquire() as conn, conn.transaction():
        envelopes = [await add_event(conn, "pep", change) for change in changes]
    assert await OutboxRelay(notify.pool, notify.bus, notify.settings, SERVICE).publish_batch() == 2
    for envelope in envelopes:
        await notify.handled("notify.pep_meetings", envelope)
    rows = await notify.pool.fetch("SELECT d.template, d.status, d.event_id FROM deliveries d "
                                   "WHERE d.event_id = ANY($1::uuid[]) ORDER BY d.created_at",
                                   [e.event_id for e in envelopes])
    assert [r["status"] for r in rows] == ["sent"] * len(rows), [dict(r) for r in rows]
    assert len(notify.mail(carer)) == len(rows)


# ---- identity's emails, signed by the Virtual School of the account they go to ---------------------------


async def add_organisation(notify: Notify, name: str, kind: str = "local_authority", la_id: uuid.UUID | None = None,
                           contact_email: str | None = None, contact_phone: str | None = None) -> uuid.UUID:
    org_id = uuid.uuid4()
    await notify.pool.execute(
        "INSERT INTO organisations (id, name, organisation_type, la_id, contact_email, contact_phone, changed_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, now())", org_id, name, kind, la_id, contact_email, contact_phone)
    return org_id


async def add_user(notify: Notify, email: str, *memberships: tuple[uuid.UUID, str],
                   user_id: uuid.UUID | None = None) -> uuid.UUID:
    user_id = user_id or uuid.uuid4()
    await notify.pool.execute(
        "INSERT INTO users (id, email, given_name, family_name, memberships, changed_at) "
        "VALUES ($1, $2, 'Pat', 'Kerr', $3, now())", user_id, email,
        [{"organisation_id": str(org), "organisation_type": "x", "role": role} for org, role in memberships])
    return user_id


async def test_a_sign_in_code_to_setting_staff_names_the_settings_virtual_school(notify: Notify) -> None:
    la = await add_organisation(notify, f"Eastmoor VS {secrets.token_hex(2)}", contact_email="vs@eastmoor.test",
                                contact_phone="01632 960 321")
    school = await add_organisation(notify, "Brook Primary", "setting", la_id=la)
    await add_user(notify, "Pat.Kerr@Example.test", (school, "designated_teacher"))
    # The event's address in another letter case than the account's: still the same person.
    [envelope] = await notify.publish(samples.sign_in_code("pat.kerr@example.test"))
    await notify.handled("notify.sign_in_code", envelope)
    [message] = notify.mail("pat.kerr@example.test")
    name = await notify.pool.fetchval("SELECT name FROM organisations WHERE id = $1", la)
    assert f"{FOOTER} {name} Email: vs@eastmoor.test Phone: 01632 960 321" in text_of(message)
    assert notify.mailbox.codes("pat.kerr@example.test") == ["1234 5678"]


async def test_someone_in_several_las_hears_from_the_first_by_name_and_nobody_else_from_any(notify: Notify) -> None:
    tag = secrets.token_hex(2)
    zeta = await add_organisation(notify, f"Zeta VS {tag}", contact_email="vs@zeta.test")
    alpha = await add_organisation(notify, f"Alpha VS {tag}", contact_email="vs@alpha.test")
    await add_user(notify, "two.las@example.test", (zeta, "vs_admin"), (alpha, "vs_caseworker"))
    await add_user(notify, "nowhere@example.test")  # an account with no memberships yet
    envelopes = await notify.publish(samples.email_code("reset_password", "two.las@example.test"),
                                     samples.email_code("reset_password", "nowhere@example.test"),
                                     samples.email_code("verify_registration", "no.account@example.test"))
    for envelope in envelopes:
        await notify.handled("notify.email_codes", envelope)
    text = text_of(notify.mail("two.las@example.test")[0])
    assert f"{FOOTER} Alpha VS {tag} Email: vs@alpha.test" in text and "Zeta" not in text
    for address in ("nowhere@example.test", "no.account@example.test"):
        assert text_of(notify.mail(address)[0]).endswith(FOOTER)


async def test_both_addresses_of_an_email_change_are_signed_by_the_accounts_virtual_school(notify: Notify) -> None:
    la = await add_organisation(notify, f"Westvale VS {secrets.token_hex(2)}", contact_phone="01632 960 777")
    event = samples.email_changed("old.pat@example.test", "new.pat@example.test")
    # The read model already has the new address: the old one is found through the event's user.
    await add_user(notify, "new.pat@example.test", (la, "vs_caseworker"), user_id=event.user_id)
    [envelope] = await notify.publish(event)
    await notify.handled("notify.account_changes", envelope)
    name = await notify.pool.fetchval("SELECT name FROM organisations WHERE id = $1", la)
    for address in ("old.pat@example.test", "new.pat@example.test"):
        [message] = notify.mail(address)
        assert f"{FOOTER} {name} Phone: 01632 960 777" in text_of(message)


async def test_a_setting_task_is_told_only_to_staff_their_dt_lets_see_the_child(notify: Notify) -> None:
    """Issue 23, finding 9: a member of staff with no grant (identity sends children []) hears of no child."""
    school = await add_organisation(notify, f"Brook Primary {secrets.token_hex(2)}", "setting")
    child, other = uuid.uuid4(), uuid.uuid4()
    tag = secrets.token_hex(3)

    async def staff(name: str, children: list[str] | None) -> None:
        await notify.pool.execute(
            "INSERT INTO users (id, email, given_name, family_name, memberships, changed_at) "
            "VALUES ($1, $2, 'Pat', 'Kerr', $3, now())", uuid.uuid4(), f"{name}.{tag}@example.test",
            [{"organisation_id": str(school), "organisation_type": "setting", "role": "setting_staff",
              "children": children, "sections": None if children is None else []}])

    await add_user(notify, f"dt.{tag}@example.test", (school, "designated_teacher"))
    await staff("everyone", None)
    await staff("granted", [str(other), str(child)])
    await staff("newcomer", [])
    await staff("elsewhere", [str(other)])
    people = await task_notices.setting_people(notify.pool, school, child)
    assert [p.email for p in people] == [f"{n}.{tag}@example.test" for n in ("dt", "everyone", "granted")]
