"""Roles and scopes as services see them, and signed button data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.callback_sign import (
    MAX_CALLBACK_BYTES,
    BadSignature,
    CallbackSigner,
    load_secret,
    sign,
    verify,
)
from bot.staff.audit import Act, audit_entries, record_audit
from bot.staff.listing import managed_staff
from bot.staff.roles import (
    BadScope,
    Grant,
    NotAllowed,
    Role,
    Staff,
    covers,
    grant_role,
    list_staff,
    may_grant,
    may_manage,
    minimal_scopes,
    require,
    revoke_grant,
    staff_of,
    staff_scope,
)

SYLHET, MAULVIBAZAR, SUNAMGANJ, KULAURA, KULAURA_UNION = "60", "6058", "6090", "605865", "60586565"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32


def _staff(*grants: tuple[Role, str]) -> Staff:
    return Staff(1, "st-test", None, tuple(Grant(i, r, s) for i, (r, s) in enumerate(grants)))


def test_covers_follows_the_geocode_hierarchy() -> None:
    assert covers("", KULAURA_UNION) and covers("", "")
    assert covers(SYLHET, MAULVIBAZAR) and covers(SYLHET, KULAURA_UNION)
    assert covers(MAULVIBAZAR, KULAURA_UNION) and covers(MAULVIBAZAR, MAULVIBAZAR)
    assert not covers(MAULVIBAZAR, SUNAMGANJ)
    assert not covers(MAULVIBAZAR, SYLHET)  # a district does not reach its division
    assert not covers(MAULVIBAZAR, "")  # nor the whole country
    assert not covers(MAULVIBAZAR, "6058x")


def test_a_higher_role_includes_the_lower_ones_in_its_scope() -> None:
    coordinator = _staff((Role.COORDINATOR, SYLHET))
    assert coordinator.can(Role.TRAINER, KULAURA_UNION)
    assert coordinator.can(Role.COORDINATOR, SUNAMGANJ)
    assert not coordinator.can(Role.ADMIN, SUNAMGANJ)
    assert not coordinator.can(Role.TRAINER, "30")  # Dhaka division
    trainer = _staff((Role.TRAINER, MAULVIBAZAR))
    assert trainer.can(Role.TRAINER, KULAURA_UNION)
    assert not trainer.can(Role.TRAINER, SUNAMGANJ)
    assert not trainer.can(Role.COORDINATOR, KULAURA_UNION)
    assert _staff((Role.ADMIN, "")).highest == Role.ADMIN


def test_scopes_drop_what_another_scope_covers() -> None:
    assert minimal_scopes([KULAURA, MAULVIBAZAR, SUNAMGANJ, KULAURA_UNION]) == [
        MAULVIBAZAR,
        SUNAMGANJ,
    ]
    assert minimal_scopes(["", SYLHET]) == [""]
    staff = _staff((Role.TRAINER, SUNAMGANJ), (Role.COORDINATOR, MAULVIBAZAR))
    assert staff.scopes(Role.TRAINER) == [MAULVIBAZAR, SUNAMGANJ]
    assert staff.scopes(Role.COORDINATOR) == [MAULVIBAZAR]
    assert staff.scopes(Role.ADMIN) == []


@pytest.mark.parametrize(
    ("grants", "role", "scope", "allowed"),
    [
        ([(Role.ADMIN, "")], Role.ADMIN, "", True),
        ([(Role.ADMIN, "")], Role.TRAINER, "", False),  # only admins are national
        ([(Role.ADMIN, SYLHET)], Role.ADMIN, MAULVIBAZAR, True),
        ([(Role.ADMIN, SYLHET)], Role.ADMIN, "", False),
        ([(Role.ADMIN, MAULVIBAZAR)], Role.COORDINATOR, SYLHET, False),
        ([(Role.COORDINATOR, SYLHET)], Role.TRAINER, KULAURA_UNION, True),
        ([(Role.COORDINATOR, SYLHET)], Role.COORDINATOR, MAULVIBAZAR, False),
        ([(Role.COORDINATOR, MAULVIBAZAR)], Role.TRAINER, SUNAMGANJ, False),
        ([(Role.TRAINER, MAULVIBAZAR)], Role.TRAINER, KULAURA, False),
        ([(Role.ADMIN, "")], Role.RESIDENT, SYLHET, False),
    ],
)
def test_who_may_hand_out_which_role(
    grants: list[tuple[Role, str]], role: Role, scope: str, allowed: bool
) -> None:
    assert may_grant(_staff(*grants), role, scope) is allowed


def test_only_admins_covering_a_grant_may_revoke_it() -> None:
    district_admin = _staff((Role.ADMIN, MAULVIBAZAR))
    assert may_manage(district_admin, Grant(9, Role.TRAINER, KULAURA))
    assert not may_manage(district_admin, Grant(9, Role.TRAINER, SUNAMGANJ))
    assert not may_manage(district_admin, Grant(9, Role.ADMIN, ""))
    assert not may_manage(_staff((Role.COORDINATOR, SYLHET)), Grant(9, Role.TRAINER, KULAURA))


async def test_require_and_staff_scope_read_the_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await grant_role(session, 501, Role.TRAINER, MAULVIBAZAR, "cli:test")
        await grant_role(session, 502, Role.COORDINATOR, SYLHET, "cli:test")
        await grant_role(session, 503, Role.ADMIN, "", "cli:test")
        await session.commit()
    async with sessions() as session:
        trainer = await require(session, 501, Role.TRAINER, KULAURA_UNION)
        assert trainer.pseudonym.startswith("st-")
        with pytest.raises(NotAllowed):
            await require(session, 501, Role.TRAINER, SUNAMGANJ)
        with pytest.raises(NotAllowed):
            await require(session, 501, Role.COORDINATOR, MAULVIBAZAR)
        with pytest.raises(NotAllowed):
            await require(session, 999, Role.TRAINER, KULAURA_UNION)  # a resident
        await require(session, 502, Role.COORDINATOR, "60911234")
        await require(session, 503, Role.ADMIN, "")
        assert await staff_scope(session, 501, Role.TRAINER) == [MAULVIBAZAR]
        assert await staff_scope(session, 502, Role.TRAINER) == [SYLHET]
        assert await staff_scope(session, 501, Role.COORDINATOR) == []
        assert await staff_scope(session, 503, Role.COORDINATOR) == [""]
        assert await staff_scope(session, 999, Role.TRAINER) == []


async def test_grants_and_revocations_are_audited_and_validated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        staff, created = await grant_role(session, 601, Role.TRAINER, MAULVIBAZAR, "cli:ops")
        again, created_again = await grant_role(session, 601, Role.TRAINER, MAULVIBAZAR, "cli:ops")
        assert created and not created_again and again.grants == staff.grants
        with pytest.raises(BadScope):
            await grant_role(session, 601, Role.TRAINER, "", "cli:ops")  # only admins national
        with pytest.raises(BadScope):
            await grant_role(session, 601, Role.TRAINER, "6099", "cli:ops")  # no such district
        with pytest.raises(BadScope):
            await grant_role(session, 601, Role.RESIDENT, MAULVIBAZAR, "cli:ops")
        await revoke_grant(session, staff.grants[0].id, "cli:ops")
        await session.commit()
    async with sessions() as session:
        assert await staff_of(session, 601) is None
        assert await list_staff(session) == []
        entries = await audit_entries(session)
    assert [(e.actor, e.act, e.scope) for e in entries] == [
        ("cli:ops", Act.ROLE_GRANTED, MAULVIBAZAR),
        ("cli:ops", Act.ROLE_REVOKED, MAULVIBAZAR),
    ]
    assert entries[0].details == {"staff": staff.pseudonym, "role": "trainer"}
    assert "601" not in repr(entries)


async def test_audit_refuses_details_that_identify_people(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        for key in ("telegram_id", "username", "chat_id"):
            with pytest.raises(ValueError, match="identify"):
                record_audit(session, "st-x", Act.ALERT_SENT, SYLHET, {key: 1})


def test_signed_data_round_trips_and_fits_telegrams_limit() -> None:
    data = "stf:rv:" + "9" * 30
    token = sign(data, SECRET, user_id=42, now=NOW)
    assert len(token.encode()) <= MAX_CALLBACK_BYTES
    assert verify(token, SECRET, user_id=42, now=NOW + timedelta(days=6)) == data
    with pytest.raises(ValueError):
        sign("x" * 50, SECRET, user_id=42, now=NOW)
    with pytest.raises(ValueError):
        sign("a|b", SECRET, user_id=42, now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("stf:rv:12", "stf:rv:13"),  # another grant
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # altered MAC
        lambda t: t.rsplit("|", 1)[0],  # MAC cut off
        lambda t: "stf:rv:12",  # never signed
        lambda t: "stf:rv:12|zzzzzzzz|" + t.rsplit("|", 1)[1],  # stamp altered
        lambda t: "",
        lambda t: "|||",
    ],
)
def test_forged_signatures_are_refused(tamper: object) -> None:
    token = sign("stf:rv:12", SECRET, user_id=42, now=NOW)
    assert callable(tamper)
    with pytest.raises(BadSignature):
        verify(tamper(token), SECRET, user_id=42, now=NOW)


def test_a_button_is_bound_to_its_person_secret_and_age() -> None:
    token = sign("stf:rv:12", SECRET, user_id=42, now=NOW)
    with pytest.raises(BadSignature):
        verify(token, SECRET, user_id=43, now=NOW)  # someone else's button
    with pytest.raises(BadSignature):
        verify(token, b"o" * 32, user_id=42, now=NOW)  # another deployment's
    with pytest.raises(BadSignature):
        verify(token, SECRET, user_id=42, now=NOW + timedelta(days=8))  # stale
    with pytest.raises(BadSignature):
        verify(token, SECRET, user_id=42, now=NOW - timedelta(hours=1))  # from the future
    signer = CallbackSigner(SECRET, max_age=timedelta(minutes=30))
    assert "k" * 8 not in repr(signer)
    with pytest.raises(BadSignature):
        signer.verify(signer.sign("x", 1, now=NOW), 1, now=NOW + timedelta(hours=1))


async def test_the_secret_comes_from_the_environment_or_is_made_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        assert await load_secret(session, {"SABAI_CALLBACK_SECRET": "s" * 20}) == b"s" * 20
        with pytest.raises(ValueError):
            await load_secret(session, {"SABAI_CALLBACK_SECRET": "short"})
        made = await load_secret(session, {})
    async with sessions() as session:
        assert await load_secret(session, {}) == made
    assert len(made) >= 32


async def test_an_admin_of_two_areas_sees_every_role_of_a_person_in_both(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await grant_role(session, 701, Role.ADMIN, MAULVIBAZAR, "cli:test")
        await grant_role(session, 701, Role.ADMIN, SUNAMGANJ, "cli:test")
        await grant_role(session, 702, Role.TRAINER, MAULVIBAZAR, "cli:test", name="Rina")
        await grant_role(session, 702, Role.COORDINATOR, SUNAMGANJ, "cli:test")
        await session.commit()
    async with sessions() as session:
        admin = await staff_of(session, 701)
        assert admin is not None
        listed = await managed_staff(session, admin)
    rina = [listing for listing in listed if listing.name == "Rina"]
    assert len(rina) == 1
    assert sorted((g.role, g.scope) for g in rina[0].grants) == sorted(
        [(Role.TRAINER, MAULVIBAZAR), (Role.COORDINATOR, SUNAMGANJ)]
    )
