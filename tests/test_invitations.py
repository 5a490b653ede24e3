"""Invitations: made by staff, used once, before they expire; guessing is slowed, then refused."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.staff.audit import Act, audit_entries
from bot.staff.invitations import (
    GuardPolicy,
    GuardState,
    InvitationRefused,
    after_failure,
    create_invitation,
    guard_verdict,
    normalise_code,
    parse_duration,
    redeem,
)
from bot.staff.models import Invitation, InviteAttempts
from bot.staff.roles import NotAllowed, Role, grant_role, staff_of
from tests.botkit import running_bot
from tests.onboard import signed_up

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = GuardPolicy()
ADMIN_ID = 770_000_001


def _payload(text: str) -> str:
    match = re.search(r"/start (inv-[a-z0-9]+)", text)
    assert match, text
    return match.group(1)


async def _invite(
    sessions: async_sessionmaker[AsyncSession],
    role: Role = Role.TRAINER,
    scope: str = "6058",
    ttl: timedelta = timedelta(days=7),
) -> str:
    async with sessions() as session:
        issued = await create_invitation(
            session, "cli:test", role, scope, creator=None, ttl=ttl, now=NOW
        )
        await session.commit()
    return issued.code


async def test_an_invitation_in_chat_gives_its_role_once_and_is_audited(db_url: str) -> None:
    async with running_bot(db_url) as h:
        async with h.app.sessions() as session:
            await grant_role(session, ADMIN_ID, Role.ADMIN, "", "cli:test")
            await session.commit()
        admin = h.person(ADMIN_ID, "Nasrin", language_code="en")
        [made] = await admin.send("/invite trainer 6058 2d")
        assert "Invitation for one trainer in Maulvibazar, Sylhet" in made.text
        assert "https://t.me/sabai_emulated_bot?start=inv-" in made.text
        payload = _payload(made.text)

        # Someone who never signed up as a resident opens the link.
        newcomer = h.person(770_000_002, "Karim", language_code="en")
        [welcome] = await newcomer.send(f"/start {payload}")
        assert "You are now a trainer for Maulvibazar" in welcome.text
        [who] = await newcomer.send("/whoami")
        assert "trainer: Maulvibazar, Sylhet" in who.text

        # The same code again, from someone else: refused, no role.
        other = await signed_up(h, 770_000_003)
        [again] = await other.send(f"/start {payload}")
        assert "has been used already" in again.text
        async with h.app.sessions() as session:
            assert await staff_of(session, 770_000_003) is None
            staff = await staff_of(session, 770_000_002)
            assert staff is not None and staff.name == "Karim"
            row = await session.scalar(select(Invitation))
            assert row is not None and row.used_by == staff.pseudonym
            code = payload.removeprefix("inv-")
            assert code not in repr(vars(row))  # only the hash is stored
            entries = await audit_entries(session)
        admin_staff_acts = [(e.act, e.scope) for e in entries if e.actor.startswith("st-")]
        assert (Act.INVITE_CREATED, "6058") in admin_staff_acts
        assert (Act.ROLE_GRANTED, "6058") in admin_staff_acts
        assert (Act.INVITE_USED, "6058") in admin_staff_acts
        granted = next(e for e in entries if e.act == Act.ROLE_GRANTED and e.actor != "cli:test")
        assert granted.details["via"] == f"invitation:{row.id}"
        assert all(str(770_000_002) not in repr(e) for e in entries)

        # A resident who already signed up can become staff too, and stays a resident.
        [made2] = await admin.send("/invite coordinator 60")
        [ok] = await other.send(f"/start {_payload(made2.text)}")
        assert "coordinator for Sylhet" in ok.text
        [data] = await other.send("/mydata")
        assert "Kulaura" in data.text


async def test_the_invitation_reply_is_in_the_newcomers_language(db_url: str) -> None:
    async with running_bot(db_url) as h:
        code = await _invite(h.app.sessions, Role.COORDINATOR, "60")
        person = h.person(770_000_010, "Rina")  # a Bangla Telegram app
        [welcome] = await person.send(f"/start inv-{code}")
        assert "সবাই দলে স্বাগতম" in welcome.text and "সমন্বয়কারী" in welcome.text
        [wrong] = await person.send("/start inv-aaaaaaaaaaaaaaaa")
        assert "সঠিক নয়" in wrong.text


async def test_an_expired_invitation_gives_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    code = await _invite(sessions, ttl=timedelta(hours=1))
    async with sessions() as session:
        with pytest.raises(InvitationRefused) as refused:
            await redeem(session, 42, code, now=NOW + timedelta(hours=1, seconds=1))
        assert refused.value.reason == "expired"
        await session.commit()
    async with sessions() as session:
        assert await staff_of(session, 42) is None
        # A code still within its time works.
    code2 = await _invite(sessions, ttl=timedelta(hours=1))
    async with sessions() as session:
        staff, role, scope = await redeem(session, 43, code2, now=NOW + timedelta(minutes=59))
        assert (role, scope) == (Role.TRAINER, "6058") and staff.can(Role.TRAINER, "60586565")


async def test_staff_may_only_invite_within_their_powers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        coordinator, _ = await grant_role(session, 50, Role.COORDINATOR, "60", "cli:test")
        await create_invitation(session, "st", Role.TRAINER, "6090", creator=coordinator, now=NOW)
        for role, scope in ((Role.COORDINATOR, "60"), (Role.TRAINER, "30"), (Role.ADMIN, "")):
            with pytest.raises(NotAllowed):
                await create_invitation(session, "st", role, scope, creator=coordinator, now=NOW)


async def test_guessing_is_slowed_down_then_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    good = await _invite(sessions, ttl=timedelta(days=2))
    guesser, now = 99, NOW
    wrong = "inv-" + "b" * 16

    async def attempt(code: str, at: datetime) -> str:
        async with sessions() as session:
            try:
                await redeem(session, guesser, code, now=at)
                return "ok"
            except InvitationRefused as refused:
                return refused.reason
            finally:
                await session.commit()

    for _ in range(POLICY.free_failures):
        assert await attempt(wrong, now) == "invalid"
    # Now each try must wait, even with the right code (it is not even looked at).
    assert await attempt(good, now + timedelta(seconds=1)) == "wait"
    delay = POLICY.base_delay
    for _ in range(POLICY.max_failures - POLICY.free_failures):
        assert await attempt(wrong, now + delay - timedelta(seconds=1)) == "wait"
        now += delay
        assert await attempt(wrong, now) == "invalid"
        delay *= 2
    # Eight wrong codes: refused for the lockout, right code or not.
    assert await attempt(good, now + timedelta(minutes=30)) == "locked"
    assert await attempt(good, now + POLICY.lockout + timedelta(seconds=1)) == "ok"
    async with sessions() as session:
        assert await session.get(InviteAttempts, guesser) is None  # forgiven on success


async def test_someone_elses_mistakes_do_not_slow_you_down(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    good = await _invite(sessions)
    for _ in range(POLICY.max_failures):
        async with sessions() as session:
            with pytest.raises(InvitationRefused):
                await redeem(session, 1, "nonsense", now=NOW)
            await session.commit()
    async with sessions() as session:
        await redeem(session, 2, good, now=NOW)


async def test_guessing_in_chat_gets_a_polite_wait(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = h.person(770_000_020, "Guess", language_code="en")
        answers = [
            (await person.send(f"/start inv-{'c' * 15}{letter}"))[0].text for letter in "defg"
        ]
        assert all("not valid" in answer for answer in answers[:3])
        assert "Too many wrong codes. Please wait until" in answers[3]
        # The bot still serves them as a resident.
        [menu_or_language] = await person.send("/start")
        assert "Choose your language" in menu_or_language.text


@pytest.mark.postgres
async def test_two_people_using_one_code_at_once_one_wins(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race is PostgreSQL's to test")
    code = await _invite(sessions)

    async def use(person: int) -> str:
        async with sessions() as session:
            try:
                await redeem(session, person, code, now=NOW)
                return "ok"
            except InvitationRefused as refused:
                return refused.reason
            finally:
                await session.commit()

    results = await asyncio.gather(*(use(person) for person in range(200, 210)))
    assert sorted(results) == ["ok"] + ["used"] * 9


def test_guard_rules_as_pure_functions() -> None:
    assert guard_verdict(None, POLICY, NOW) == ("ok", None)
    state = GuardState(3, NOW)
    assert guard_verdict(state, POLICY, NOW) == ("wait", NOW + POLICY.base_delay)
    assert guard_verdict(state, POLICY, NOW + POLICY.base_delay) == ("ok", None)
    assert guard_verdict(state, POLICY, NOW + POLICY.forget_after) == ("ok", None)
    assert after_failure(state, POLICY, NOW + POLICY.forget_after).failures == 1
    locked = after_failure(GuardState(7, NOW), POLICY, NOW)
    assert locked.locked_until == NOW + POLICY.lockout
    assert guard_verdict(locked, POLICY, NOW + timedelta(minutes=59))[0] == "locked"
    assert after_failure(locked, POLICY, NOW + POLICY.lockout).failures == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2W", timedelta(weeks=2)),
        ("31d", None),
        ("0d", None),
        ("7", None),
        ("-1d", None),
        ("৭d", timedelta(days=7)),  # Bengali digits are digits too
    ],
)
def test_durations(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_codes_are_read_leniently_but_strictly_shaped() -> None:
    assert normalise_code("  INV-abcdefghjkmnpqrs ") == "abcdefghjkmnpqrs"
    assert normalise_code("abcdefghjkmnpqrs") == "abcdefghjkmnpqrs"
    for bad in ("inv-", "inv-abc", "inv-" + "0" * 16, "inv-" + "a" * 17, "inv-ক" * 16):
        assert normalise_code(bad) is None
