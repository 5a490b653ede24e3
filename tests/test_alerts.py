"""Coordinators compose, preview, confirm and cancel alerts in chat; residents get them and tap
"got it"; other systems send them from the command line. All through the real dispatcher."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert, AlertAck, ResidentTopic
from bot.alerts.progress import update_progress
from bot.alerts.service import alert_status
from bot.channels.telegram.transport import AiogramTransport
from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.core.base import utcnow
from bot.core.callback_sign import SignerSource
from bot.delivery.outbox import OUTBOX
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimits
from bot.delivery.sender import Sender, SenderConfig
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from bot.staff.audit import audit_entries
from bot.staff.roles import Role, grant_role
from handlers.alerts import progress_editor
from tests.botkit import Harness, Person, running_bot
from tests.botkit import test_settings as settings_for
from tests.onboard import signed_up

DHAKA = ZoneInfo("Asia/Dhaka")
SREEMANGAL_UNION = "60588315"
Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


async def make_coordinator(h: Harness, uid: int, language: str = "English") -> Person:
    """A signed-up Kulaura resident who coordinates Sylhet division."""
    area = "Kulaura" if language == "English" else "কুলাউড়া"
    person = await signed_up(h, uid, language=language, area=area, first_name="Coord")
    async with h.app.sessions.begin() as session:
        await grant_role(session, uid, Role.COORDINATOR, "60", "cli:test")
    return person


async def urgent_water_alert_for_kulaura(coordinator: Person) -> None:
    """Start an urgent water alert and type the area: the places found are listed."""
    [topics] = await coordinator.send("/alert")
    assert "What is it about?" in topics.text
    await coordinator.tap("Water supply")
    await coordinator.tap("Urgent")
    [found] = await coordinator.send("Kulaura")
    assert "Places matching" in found.text


async def drain(h: Harness, clock: datetime | None = None) -> None:
    """Run the real sender once over the outbox, at `clock` (default: now)."""
    moment = clock or utcnow()
    config = SenderConfig(name="test", idle_poll=0.05, flush_interval=0.01)
    limiter = MemoryRateLimiter(RateLimits(per_second=None))
    sender = Sender(
        h.app.sessions, AiogramTransport(h.app.bot), limiter, config, clock=lambda: moment
    )
    await sender.drain(horizon=1)


async def refresh_progress(h: Harness) -> int:
    editor = progress_editor(h.app.bot, SignerSource(h.app.sessions, {}))
    ctx = h.app.ctx
    return await update_progress(h.app.sessions, editor, ctx.catalog, ctx.tz, ctx.small_count_k)


async def move(h: Harness, uid: int, area_code: str) -> None:
    async with h.app.sessions.begin() as session:
        await session.execute(
            update(Resident).where(Resident.telegram_id == uid).values(area_code=area_code)
        )


async def test_compose_in_english_preview_confirm_deliver_and_got_it(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url, small_count_k=3) as h:
        coordinator = await make_coordinator(h, 9000)
        english = await signed_up(h, 9001)
        bangla = await signed_up(h, 9002, language="বাংলা", area="কুলাউড়া")
        elsewhere = await signed_up(h, 9003)
        await move(h, 9003, SREEMANGAL_UNION)

        await urgent_water_alert_for_kulaura(coordinator)
        [areas] = await coordinator.tap("Kulaura, Maulvibazar")
        assert "• Kulaura, Maulvibazar" in areas.text
        await coordinator.tap("Done with areas")
        [ask_en] = await coordinator.send("আজ বিকেলে পানি সরবরাহ বন্ধ থাকবে। <আগে পানি জমিয়ে রাখুন>")
        assert "English" in ask_en.text
        await coordinator.send("Water supply is off this afternoon. Store water now.")
        await coordinator.tap("Now")
        preview = await coordinator.tap("24 hours")
        bn_preview, en_preview, summary = preview[-3:]
        # Exactly what residents will see, with the coordinator's words escaped.
        assert "জরুরি: পানি সরবরাহ" in bn_preview.text
        assert "<আগে পানি জমিয়ে রাখুন>" in bn_preview.text
        assert "URGENT: Water supply" in en_preview.text and "Valid until" in en_preview.text
        assert en_preview.buttons[0][0][0] == "✓ Got it"
        assert "Will reach 3 residents" in summary.text
        assert "Sylheti get the Bangla text" in summary.text
        async with h.app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OUTBOX)) == 0

        [progress] = await coordinator.tap("Send")
        assert "Alert #" in progress.text and "Recipients: 3" in progress.text
        async with h.app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OUTBOX)) == 3
            [entry] = await audit_entries(session, act="alert_sent")
        assert entry.details["topic"] == "water" and entry.scope == "605865"
        # A second tap on the old confirmation queues nothing more.
        await coordinator.press(summary.message_id, summary.buttons[0][0][1], forge=True)
        async with h.app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OUTBOX)) == 3

        await drain(h)
        assert "Water supply is off this afternoon" in english.last_text()
        assert "পানি সরবরাহ বন্ধ থাকবে" in bangla.last_text()
        assert "Water supply" not in elsewhere.last_text()

        await english.tap("Got it")
        answer = h.emulator.callback_answer(english.last_callback_id)
        assert answer is not None and "Thank you" in (answer.text or "")
        assert english.last().buttons == []
        # A forged tap on another alert id counts nothing.
        await bangla.press(bangla.last().message_id, "ak:999", forge=True)

        assert await refresh_progress(h) == 1
        done = h.emulator.messages(9000)
        final = next(m for m in done if m.message_id == progress.message_id)
        assert "done" in final.text and "Sent: 3" in final.text
        # One acknowledgement could single out who tapped: shown as below k (3 here).
        assert "“Got it”: <3" in final.text
        assert final.buttons == []
        assert await refresh_progress(h) == 0

        async with h.app.sessions() as session:
            kinds = dict(
                (
                    await session.execute(
                        select(Event.kind, func.count())
                        .where(
                            Event.kind.in_(
                                [
                                    EventKind.ALERT_DELIVERED.value,
                                    EventKind.ALERT_ACKNOWLEDGED.value,
                                ]
                            )
                        )
                        .group_by(Event.kind)
                    )
                ).all()
            )
            ack_area = await session.scalar(
                select(Event.area_code).where(Event.kind == EventKind.ALERT_ACKNOWLEDGED.value)
            )
            assert await session.scalar(select(func.count()).select_from(AlertAck)) == 1
        assert kinds == {"alert_delivered": 3, "alert_acknowledged": 1}
        assert ack_area == "605865"


async def test_compose_in_bangla_scheduled_in_quiet_hours_then_cancelled(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9100, language="বাংলা")
        resident = await signed_up(h, 9101)
        [topics] = await coordinator.send("/alert")
        assert "কোন বিষয়ে" in topics.text
        await coordinator.tap("বিদ্যুৎ")
        await coordinator.tap("সাধারণ")
        await coordinator.tap("এলাকার তালিকা দেখুন")
        await coordinator.tap("সিলেট")
        await coordinator.tap("মৌলভীবাজার")
        [chosen] = await coordinator.tap("পুরো মৌলভীবাজার")
        assert "• মৌলভীবাজার" in chosen.text
        await coordinator.tap("এলাকা বাছাই শেষ")
        await coordinator.send("রাত ১১টা থেকে বিদ্যুৎ থাকবে না।")
        await coordinator.tap("ইংরেজি বাদ দিন")
        [bad] = await coordinator.send("কাল সকালে")
        assert "এভাবে লিখুন" in bad.text
        await coordinator.send("২০৩০-০১-০২ ২২:৩০")
        preview = await coordinator.send("2030-01-03 12:00")
        summary = preview[-1]
        assert "<৫ জন বাসিন্দার কাছে পৌঁছাবে" in summary.text
        assert "ইংরেজি, সিলেটি পাঠকেরা বাংলা লেখাটি পাবেন" in summary.text
        assert "নীরব সময়ে" in summary.text
        [progress] = await coordinator.tap("পাঠান")
        assert "নির্ধারিত" in progress.text

        async with h.app.sessions() as session:
            not_before = await session.scalar(select(func.min(OUTBOX.c.not_before)))
            alert = await session.scalar(select(Alert))
        assert not_before is not None and alert is not None
        assert not_before.astimezone(DHAKA) == datetime(2030, 1, 3, 8, 0, tzinfo=DHAKA)

        await coordinator.tap("বাতিল করুন")
        answer = h.emulator.callback_answer(coordinator.last_callback_id)
        assert answer is not None and "বাতিল হয়েছে" in (answer.text or "")
        await drain(h, not_before + timedelta(minutes=1))
        assert "বিদ্যুৎ থাকবে না" not in resident.last_text()
        async with h.app.sessions() as session:
            status = await alert_status(session, alert.id)
            cancelled = await audit_entries(session, act="alert_cancelled")
        assert status is not None and status.state == "cancelled" and status.sent == 0
        assert status.dropped == {"cancelled": 2}
        assert len(cancelled) == 1 and cancelled[0].details["dropped"] == 2
        await refresh_progress(h)
        final = next(m for m in h.emulator.messages(9100) if m.message_id == progress.message_id)
        assert "বাতিল" in final.text and final.buttons == []


async def test_residents_cannot_compose_and_topics_settings_are_kept(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        resident = await signed_up(h, 9200)
        [answer] = await resident.send("/alert")
        assert "I don't know that command" in answer.text
        [topics] = await resident.send("/topics")
        assert "✅ Water supply" in topics.text or topics.buttons[0][0][0] == "✅ Water supply"
        [after] = await resident.tap("Water supply")
        assert after.buttons[0][0][0] == "⬜ Water supply"
        async with h.app.sessions() as session:
            rows = (await session.scalars(select(ResidentTopic.topic))).all()
            opted = await session.scalar(
                select(func.count()).where(Event.kind == EventKind.OPTED_OUT.value)
            )
        assert rows == ["water"] and opted == 1
        [again] = await resident.tap("Water supply")
        assert again.buttons[0][0][0] == "✅ Water supply"


async def test_cli_send_list_show_and_expiry(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        residents = [await signed_up(h, uid) for uid in (9300, 9301)]
        settings = settings_for(db_url)
        out = io.StringIO()
        args = _parser().parse_args(
            [
                "alerts",
                "send",
                "--areas",
                "605865,6091",
                "--topic",
                "flood",
                "--urgency",
                "urgent",
                "--text",
                "bn=নদীর পানি বাড়ছে।",
                "--text",
                "en=The river is rising.",
            ]
        )
        assert await cli_alerts.run(args, settings, out) == 0
        assert "queued for 2 recipients" in out.getvalue()
        alert_id = int(out.getvalue().split()[1])

        late = io.StringIO()
        soon = (utcnow() + timedelta(minutes=5)).isoformat()
        args = _parser().parse_args(
            [
                "alerts",
                "send",
                "--areas",
                "605865",
                "--topic",
                "scam",
                "--urgency",
                "urgent",
                "--text",
                "bn=প্রতারক ফোন করছে।",
                "--until",
                soon,
            ]
        )
        assert await cli_alerts.run(args, settings, late) == 0
        expiring = int(late.getvalue().split()[1])

        # The sender runs after the second alert's validity ended: only the first arrives.
        await drain(h, utcnow() + timedelta(minutes=10))
        for person in residents:
            texts = [m.text for m in person.chat()]
            assert any("The river is rising." in t for t in texts)
            assert not any("প্রতারক" in t for t in texts)

        shown = io.StringIO()
        assert (
            await cli_alerts.run(
                _parser().parse_args(["alerts", "show", str(alert_id)]), settings, shown
            )
            == 0
        )
        assert "done" in shown.getvalue() and "sent: 2" in shown.getvalue()
        assert "[##############################] 2/2" in shown.getvalue()
        expired = io.StringIO()
        await cli_alerts.run(
            _parser().parse_args(["alerts", "show", str(expiring)]), settings, expired
        )
        assert "expired" in expired.getvalue() and "2 expired" in expired.getvalue()
        listing = io.StringIO()
        assert (
            await cli_alerts.run(_parser().parse_args(["alerts", "list"]), settings, listing) == 0
        )
        assert listing.getvalue().count("\n") == 2

        bad = io.StringIO()
        args = _parser().parse_args(
            ["alerts", "send", "--areas", "605865", "--topic", "flood", "--text", "en=x"]
        )
        assert await cli_alerts.run(args, settings, bad) == 2


async def test_a_coordinator_who_never_signed_up_composes_by_typing(
    db_url: str, sessions: Sessions
) -> None:
    # No resident row: whether typed text answers the draft is looked up on its own.
    async with running_bot(db_url) as h:
        coordinator = h.person(9100, first_name="Coord", language_code="en")
        async with h.app.sessions.begin() as session:
            await grant_role(session, 9100, Role.COORDINATOR, "60", "cli:test")
        await urgent_water_alert_for_kulaura(coordinator)
        async with h.app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Resident)) == 0


async def test_text_typed_while_a_draft_waits_for_a_button_keeps_the_draft(
    db_url: str, sessions: Sessions
) -> None:
    # The draft is read with the resident row (one query); at a button step it answers the
    # text itself, with its own screen again, so the draft is never lost.
    async with running_bot(db_url) as h:
        coordinator = await make_coordinator(h, 9200)
        [topics] = await coordinator.send("/alert")
        assert "What is it about?" in topics.text
        [answer] = await coordinator.send("Kulaura")
        assert "Sorry, I did not understand" in answer.text
        # The draft is still there: its topic buttons carry on.
        water = next(d for row in topics.buttons for label, d in row if "Water supply" in label)
        [urgency] = await coordinator.press(topics.message_id, water)
        assert "Urgent" in str(urgency.buttons)
