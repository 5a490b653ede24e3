"""Assisted registration: people without a phone, registered by a trainer, and their attendance.

An assisted resident has no Telegram id. They are registered by a trainer in chat (/register)
or from a workshop's attendance sheet (`sabai residents import FILE.csv --trainer ID`).
Recorded attendance counts as reached and engaged on that day: it is written both to the
`attendance` table (who, which day, which trainer) and to the event log (ATTENDANCE_RECORDED,
dated the start of that local day) that reach is computed from.

A person may come to a second workshop and be registered again. They are counted once among
those Sabai can reach (`registered_again`) when the trainer says so ("already registered" in
/register, `already_registered` in a sheet), or when an earlier assisted registration in the
same area has the same name or initials, age band and gender: all three must be given, as
area, age and gender alone fit too many different people.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas.models import Area
from bot.core.base import new_pseudonym, utcnow
from bot.core.i18n import LANGUAGES
from bot.reach.models import Attendance, AttendanceImport
from bot.residents.events import EventKind, record_for
from bot.residents.models import Resident
from bot.staff.audit import Act, record_audit

GENDERS = ("female", "male", "other")
AGE_BANDS = ("under18", "18_29", "30_44", "45_59", "60plus")
PHONE_ACCESS = ("none", "shared")
CSV_COLUMNS = (
    "area_code",
    "language",
    "phone_access",
    "gender",
    "age_band",
    "attended_on",
    "name",
    "already_registered",
)
MAX_NAME = 64
YES, NO = ("yes", "y", "1", "true"), ("", "no", "n", "0", "false")
MAX_ROWS = 5_000  # a workshop sheet, not a census


class ImportRejected(Exception):
    """The file has bad rows; nothing was imported. `problems` are (line number, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} bad rows")
        self.problems = problems


class AlreadyImported(Exception):
    """This exact file was imported before (at `at`); importing it again would double people."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"already imported at {at.isoformat()}")
        self.at = at


@dataclass(frozen=True)
class AssistedPerson:
    """One person to register, as validated plain values."""

    area_code: str
    language: str = "bn"
    phone_access: str = "none"
    gender: str | None = None
    age_band: str | None = None
    attended_on: date | None = None
    # Name or initials, if the person gave them: only to recognise a second registration.
    name: str | None = None
    # The trainer says the person was registered at another workshop already.
    again: bool = False


@dataclass(frozen=True)
class ImportReport:
    registered: int
    attendance: int


def attendance_moment(day: date, tz: ZoneInfo) -> datetime:
    """When attendance on `day` counts: the start of that local day (never in the future)."""
    return datetime.combine(day, time(), tz)


def _name_key(name: str | None) -> str | None:
    cleaned = " ".join((name or "").split()).lower()[:MAX_NAME]
    return cleaned or None


async def registered_before(session: AsyncSession, person: AssistedPerson, now: datetime) -> bool:
    """Whether an earlier assisted registration is surely the same person (see module doc)."""
    name = _name_key(person.name)
    if name is None or person.gender is None or person.age_band is None:
        return False
    found = await session.scalar(
        select(Resident.id)
        .where(
            Resident.channel == "assisted",
            Resident.area_code == person.area_code,
            Resident.consent_at.is_not(None),
            Resident.created_at < now,
            Resident.gender == person.gender,
            Resident.age_band == person.age_band,
            func.lower(Resident.first_name) == name,
        )
        .limit(1)
    )
    return found is not None


def register_assisted(
    session: AsyncSession,
    person: AssistedPerson,
    trainer: str,
    tz: ZoneInfo,
    now: datetime | None = None,
    *,
    again: bool = False,
) -> Resident:
    """Add an assisted resident (consent given to the trainer) and any attendance.

    `again`: the person is registered already (counted once among the reachable).
    """
    now = now or utcnow()
    resident = Resident(
        # Set here, not at insert, so the event below can name the resident already.
        pseudonym=new_pseudonym(),
        channel="assisted",
        language=person.language,
        area_code=person.area_code,
        consent_at=now,
        gender=person.gender,
        age_band=person.age_band,
        phone_access=person.phone_access,
        registered_by=trainer,
        first_name=_name_key(person.name),
        registered_again=again or person.again,
        created_at=now,
        updated_at=now,
    )
    session.add(resident)
    record_for(
        session,
        EventKind.REGISTERED,
        resident.pseudonym,
        person.area_code,
        {"channel": "assisted"},
        at=now,
    )
    return resident


async def record_attendance(
    session: AsyncSession, resident: Resident, day: date, trainer: str, tz: ZoneInfo
) -> bool:
    """Record that the resident attended on `day`; False if it was recorded already."""
    await session.flush()  # the resident needs its id
    exists = await session.scalar(
        select(Attendance.id).where(
            Attendance.resident_id == resident.id, Attendance.attended_on == day
        )
    )
    if exists is not None:
        return False
    session.add(Attendance(resident_id=resident.id, attended_on=day, trainer=trainer))
    record_for(
        session,
        EventKind.ATTENDANCE_RECORDED,
        resident.pseudonym,
        resident.area_code,
        {"trainer": trainer},
        at=attendance_moment(day, tz),
    )
    return True


async def register_person(
    session: AsyncSession,
    person: AssistedPerson,
    trainer: str,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> Resident:
    """Register one person (chat /register) and record their attendance if given."""
    now = now or utcnow()
    again = await registered_before(session, person, now)
    resident = register_assisted(session, person, trainer, tz, now, again=again)
    await session.flush()
    if person.attended_on is not None:
        await record_attendance(session, resident, person.attended_on, trainer, tz)
    record_audit(session, trainer, Act.PERSON_REGISTERED, person.area_code, {"people": 1})
    return resident


# ----- CSV import -------------------------------------------------------------------------


def parse_attendance_csv(
    data: bytes, known_areas: set[str], today: date
) -> tuple[list[AssistedPerson], list[tuple[int, str]]]:
    """Validate a workshop sheet; return the people and every problem by line number."""
    problems: list[tuple[int, str]] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(1, "the file is not UTF-8 text")]
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if "area_code" not in header:
        return [], [(1, "the header must name the column area_code")]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        return [], [(1, f"unknown columns: {', '.join(unknown)}")]
    people: list[AssistedPerson] = []
    for row in reader:
        line = reader.line_num
        if len(people) + len(problems) >= MAX_ROWS:
            problems.append((line, f"more than {MAX_ROWS} rows; split the file"))
            break
        shape = _shape_problem(row, len(header))
        if shape:
            problems.append((line, shape))
            continue
        values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue  # blank line
        person, problem = _person(values, known_areas, today)
        if problem:
            problems.append((line, problem))
        elif person is not None:
            people.append(person)
    return people, problems


def _shape_problem(row: dict[str | None, str | None], columns: int) -> str | None:
    """A row with fewer or more cells than the header: its values would land in wrong columns."""
    # DictReader fills missing cells with None and gathers extra ones under the key None.
    cells = sum(1 for key, value in row.items() if key is not None and value is not None)
    extra = row.get(None)
    if isinstance(extra, list):
        cells += len(extra)
    if cells == columns:
        return None
    return f"{cells} of {columns} columns; every row needs all the header's columns"


def _person(
    values: dict[str, str], known_areas: set[str], today: date
) -> tuple[AssistedPerson | None, str | None]:
    area = values.get("area_code", "")
    if not area:
        return None, "area_code is empty"
    if area not in known_areas:
        return None, f"no area with code {area[:16]!r}"
    language = values.get("language") or "bn"
    if language not in LANGUAGES:
        return None, f"language must be one of {', '.join(LANGUAGES)}"
    phone = values.get("phone_access") or "none"
    if phone not in PHONE_ACCESS:
        return None, f"phone_access must be one of {', '.join(PHONE_ACCESS)}"
    gender = values.get("gender") or None
    if gender is not None and gender not in GENDERS:
        return None, f"gender must be empty or one of {', '.join(GENDERS)}"
    age = values.get("age_band") or None
    if age is not None and age not in AGE_BANDS:
        return None, f"age_band must be empty or one of {', '.join(AGE_BANDS)}"
    attended: date | None = None
    if values.get("attended_on"):
        try:
            attended = date.fromisoformat(values["attended_on"])
        except ValueError:
            return None, "attended_on must be a date like 2026-11-28"
        if attended > today:
            return None, "attended_on is in the future"
    name = values.get("name") or None
    if name is not None and len(name) > MAX_NAME:
        return None, f"name must be at most {MAX_NAME} characters (initials are enough)"
    again_text = (values.get("already_registered") or "").lower()
    if again_text not in YES + NO:
        return None, "already_registered must be empty, yes or no"
    person = AssistedPerson(area, language, phone, gender, age, attended, name, again_text in YES)
    return person, None


async def import_attendance(
    session: AsyncSession,
    data: bytes,
    trainer: str,
    tz: ZoneInfo,
    allowed: set[str] | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import a workshop sheet all or nothing, in the caller's transaction.

    `allowed`: area-code scopes the trainer covers (None: anywhere); a row outside them is a
    bad row. Raises ImportRejected (nothing written) or AlreadyImported.
    """
    now = now or utcnow()
    digest = hashlib.sha256(data).hexdigest()
    earlier = await session.scalar(
        select(AttendanceImport.at).where(AttendanceImport.digest == digest)
    )
    if earlier is not None:
        raise AlreadyImported(earlier)
    known = set(await session.scalars(select(Area.code)))
    people, problems = parse_attendance_csv(data, known, now.astimezone(tz).date())
    if allowed is not None:
        # Rows otherwise fine but outside the trainer's areas (one problem per line).
        bad_lines = {line for line, _ in problems}
        problems.extend(p for p in _outside(data, allowed) if p[0] not in bad_lines)
    if problems:
        raise ImportRejected(sorted(problems))
    attendance = 0
    for person in people:
        again = await registered_before(session, person, now)
        resident = register_assisted(session, person, trainer, tz, now, again=again)
        if person.attended_on is not None:
            attendance += await record_attendance(
                session, resident, person.attended_on, trainer, tz
            )
    session.add(AttendanceImport(digest=digest, trainer=trainer, rows=len(people), at=now))
    # One entry per area the sheet registered people in, so each area's staff see it.
    per_area: dict[str, int] = {}
    for person in people:
        per_area[person.area_code] = per_area.get(person.area_code, 0) + 1
    for area_code, count in sorted(per_area.items()):
        record_audit(session, trainer, Act.PERSON_REGISTERED, area_code, {"people": count})
    await session.flush()
    return ImportReport(registered=len(people), attendance=attendance)


def _outside(data: bytes, allowed: set[str]) -> list[tuple[int, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig", errors="replace")))
    problems = []
    for row in reader:
        code = (row.get("area_code") or "").strip()
        if code and not any(scope == "" or code.startswith(scope) for scope in allowed):
            problems.append((reader.line_num, f"area {code} is outside the trainer's areas"))
    return problems
