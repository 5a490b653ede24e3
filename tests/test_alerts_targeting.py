"""Who an alert reaches, quiet hours and validity, as pure logic and against the database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import ResidentTopic
from bot.alerts.service import (
    AlertError,
    AlertSpec,
    count_recipients,
    create_alert,
    delivery_time,
    minimal_areas,
    next_allowed_time,
    validate,
)
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.delivery.outbox import OUTBOX
from bot.lessons.pushes import QuietHours
from bot.residents.models import Resident
from bot.residents.service import ResidentService

DHAKA = ZoneInfo("Asia/Dhaka")
QUIET = QuietHours()
BHUKSHIMAIL = "60586510"  # a union of Kulaura
BARAMCHAL = "60586511"  # another union of Kulaura
KULAURA = "605865"  # upazila
MAULVIBAZAR = "6058"  # district
SADAR_UNION = "60587413"  # a union of Maulvibazar Sadar, same district
SYLHET = "6091"  # another district
BALAGANJ = "609108"  # an upazila of Sylhet district

Sessions = async_sessionmaker[AsyncSession]


def dhaka(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=DHAKA)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (dhaka(2030, 1, 2, 22, 30), dhaka(2030, 1, 3, 8, 0)),
        (dhaka(2030, 1, 3, 2, 0), dhaka(2030, 1, 3, 8, 0)),
        (dhaka(2030, 1, 3, 7, 59), dhaka(2030, 1, 3, 8, 0)),
        (dhaka(2030, 1, 3, 8, 0), dhaka(2030, 1, 3, 8, 0)),
        (dhaka(2030, 1, 3, 20, 59), dhaka(2030, 1, 3, 20, 59)),
        (dhaka(2030, 1, 3, 21, 0), dhaka(2030, 1, 4, 8, 0)),
    ],
)
def test_next_allowed_time_skips_quiet_hours(local: datetime, expected: datetime) -> None:
    moment = next_allowed_time(local.astimezone(UTC), DHAKA, QUIET)
    assert moment == expected and moment.tzinfo is not None


def spec(**changes: object) -> AlertSpec:
    values: dict[str, object] = {
        "topic": "water",
        "urgency": "normal",
        "area_codes": (KULAURA,),
        "texts": {"bn": "পানি বন্ধ থাকবে।", "en": "Water will be off."},
        "send_at": dhaka(2030, 1, 2, 23, 0).astimezone(UTC),
        "expires_at": dhaka(2030, 1, 3, 18, 0).astimezone(UTC),
    }
    values.update(changes)
    return AlertSpec(**values)  # type: ignore[arg-type]


def test_urgent_alerts_come_in_quiet_hours_and_normal_ones_wait() -> None:
    assert delivery_time(spec(urgency="urgent"), DHAKA, QUIET) == dhaka(2030, 1, 2, 23, 0)
    assert delivery_time(spec(), DHAKA, QUIET) == dhaka(2030, 1, 3, 8, 0)


def test_validation_refuses_what_cannot_be_sent() -> None:
    def known(code: str) -> bool:
        return code in {KULAURA, MAULVIBAZAR}

    validate(spec(), known, DHAKA, QUIET)
    cases: list[tuple[dict[str, object], str]] = [
        ({"topic": "weather"}, "alerts.bad_topic"),
        ({"urgency": "soon"}, "alerts.bad_urgency"),
        ({"area_codes": ()}, "alerts.no_areas"),
        ({"area_codes": ("999999",)}, "alerts.bad_area"),
        ({"texts": {"en": "English only"}}, "alerts.need_bangla"),
        ({"texts": {"bn": "x", "fr": "y"}}, "alerts.bad_language"),
        ({"texts": {"bn": "x" * 2000}}, "alerts.text_too_long"),
        # Valid until 07:00, but a normal alert written at 23:00 waits until 08:00.
        ({"expires_at": dhaka(2030, 1, 3, 7, 0).astimezone(UTC)}, "alerts.expires_before_send"),
    ]
    for changes, key in cases:
        with pytest.raises(AlertError) as caught:
            validate(spec(**changes), known, DHAKA, QUIET)
        assert caught.value.key == key, changes
    # The same validity is fine for an urgent alert: it goes at once.
    validate(
        spec(urgency="urgent", expires_at=dhaka(2030, 1, 3, 7, 0).astimezone(UTC)),
        known,
        DHAKA,
        QUIET,
    )


def test_an_area_inside_another_chosen_one_adds_nothing() -> None:
    assert minimal_areas([BHUKSHIMAIL, KULAURA, SYLHET, BALAGANJ]) == (KULAURA, SYLHET)


async def _resident(
    session: AsyncSession,
    telegram_id: int,
    area: str,
    *,
    status: str = "active",
    consent: bool = True,
    language: str = "bn",
) -> Resident:
    resident = Resident(
        telegram_id=telegram_id,
        language=language,
        area_code=area,
        status=status,
        consent_at=utcnow() if consent else None,
    )
    session.add(resident)
    await session.flush()
    return resident


async def _population(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await _resident(session, 1, BHUKSHIMAIL)
        await _resident(session, 2, BARAMCHAL, language="en")
        await _resident(session, 3, KULAURA)  # knows the upazila, not the union
        await _resident(session, 4, SADAR_UNION, language="syl")
        await _resident(session, 5, BALAGANJ)
        opted_out = await _resident(session, 6, BHUKSHIMAIL)
        session.add(ResidentTopic(resident_id=opted_out.id, topic="water"))
        await _resident(session, 7, BHUKSHIMAIL, status="unreachable")
        await _resident(session, 8, BHUKSHIMAIL, consent=False)
        forgotten = await _resident(session, 9, BHUKSHIMAIL)
        await ResidentService(session).forget(forgotten)


async def _queued_chats(sessions: Sessions, alert_id: int) -> set[int]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OUTBOX.c.chat_id).where(
                OUTBOX.c.job_kind == "alert", OUTBOX.c.job_id == alert_id
            )
        )
        return set(rows)


@pytest.mark.parametrize(
    ("areas", "urgency", "expected"),
    [
        # 3 chose all of Kulaura, not knowing their union: every union's alert reaches them.
        ((BHUKSHIMAIL,), "normal", {1, 3}),
        ((KULAURA,), "normal", {1, 2, 3}),
        ((MAULVIBAZAR,), "normal", {1, 2, 3, 4}),
        ((BARAMCHAL, SYLHET), "normal", {2, 3, 5}),
        # Urgent alerts reach residents who turned the topic off too.
        ((BHUKSHIMAIL,), "urgent", {1, 3, 6}),
        ((MAULVIBAZAR,), "urgent", {1, 2, 3, 4, 6}),
    ],
)
async def test_targeting_by_union_upazila_and_district(
    sessions: Sessions, areas: tuple[str, ...], urgency: str, expected: set[int]
) -> None:
    await _population(sessions)
    async with sessions() as session:
        assert await count_recipients(session, "water", areas, urgency) == len(expected)
    catalog = Catalog.load()
    queued = await create_alert(
        sessions,
        spec(area_codes=areas, urgency=urgency, send_at=utcnow(), expires_at=None),
        "cli:test",
        catalog,
        DHAKA,
        QUIET,
        known_area=lambda code: True,
    )
    assert queued.recipients == len(expected)
    assert await _queued_chats(sessions, queued.alert_id) == expected


async def test_another_topic_reaches_those_who_turned_water_off(sessions: Sessions) -> None:
    await _population(sessions)
    async with sessions() as session:
        # 1, 6 and 3 (all of Kulaura); 6 turned water off.
        assert await count_recipients(session, "power", (BHUKSHIMAIL,), "normal") == 3
        assert await count_recipients(session, "water", (BHUKSHIMAIL,), "normal") == 2


async def test_an_alert_outside_the_coordinators_scope_is_refused(sessions: Sessions) -> None:
    from bot.staff.roles import Grant, Role, Staff

    staff = Staff(1, "coord", None, (Grant(1, Role.COORDINATOR, KULAURA),))
    with pytest.raises(AlertError) as caught:
        await create_alert(
            sessions,
            spec(area_codes=(KULAURA, SYLHET), send_at=utcnow(), expires_at=None),
            "coord",
            Catalog.load(),
            DHAKA,
            QUIET,
            known_area=lambda code: True,
            staff=staff,
        )
    assert caught.value.key == "alerts.not_your_area"
