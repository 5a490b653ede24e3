"""The authorization matrix: every privileged chat command and button, as every role, in and
out of scope, and forged. Every denial holds, every grant works, every act is audited.

Issues 3–5 add their commands as rows of ACTS (an act, its expected outcome per actor, and how
to tell that it took effect); the harness runs each row as each actor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.alerts.models import Alert, AlertDraft
from bot.alerts.service import AlertSpec, create_alert
from bot.core.base import utcnow
from bot.core.callback_sign import CallbackSigner, load_secret
from bot.core.i18n import LANGUAGES, Catalog
from bot.delivery.outbox import OUTBOX
from bot.lessons.courses import Schedule, draft_course, parse_hhmm
from bot.lessons.groups import groups_of
from bot.lessons.models import Course, LessonPush
from bot.lessons.pushes import QuietHours, Target, draft_push
from bot.residents.models import Resident
from bot.staff.audit import Act, audit_entries
from bot.staff.models import Invitation
from bot.staff.roles import Role, grant_by_id, grant_role, staff_of
from tests.botkit import Harness, Person, running_bot
from tests.onboard import signed_up

SYLHET, MAULVIBAZAR, SUNAMGANJ, KULAURA, KULAURA_UNION = "60", "6058", "6090", "605865", "60586565"
DHAKA = "30"  # a division outside Sylhet
COURSE_LESSONS = "pin-otp phone-lock scam-calls"
# Distinctive ids, so a leak into anything staff read would be found by a plain search.
RESIDENT_ID = 880_000_001
ACTORS: dict[str, tuple[int, Role | None, str]] = {
    "resident": (RESIDENT_ID, None, ""),
    "trainer of Maulvibazar": (880_000_011, Role.TRAINER, MAULVIBAZAR),
    "coordinator of Sylhet": (880_000_012, Role.COORDINATOR, SYLHET),
    "admin of Maulvibazar": (880_000_013, Role.ADMIN, MAULVIBAZAR),
    "national admin": (880_000_014, Role.ADMIN, ""),
}
GRANTED, DENIED, UNKNOWN, EXPIRED = "granted", "denied", "unknown", "expired"
_victims = iter(range(880_100_000, 880_200_000))


@dataclass
class World:
    h: Harness
    signer: CallbackSigner
    people: dict[str, Person]

    async def audit_count(self) -> int:
        async with self.h.app.sessions() as session:
            return len(await audit_entries(session))

    async def invitation_count(self) -> int:
        async with self.h.app.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Invitation)) or 0)

    async def victim_grant(self, role: Role, scope: str) -> int:
        """A fresh staff member to act on; return the id of their grant."""
        async with self.h.app.sessions() as session:
            staff, _ = await grant_role(session, next(_victims), role, scope, "cli:test")
            await session.commit()
        return staff.grants[0].id

    async def count(self, what: Any, *where: Any) -> int:
        async with self.h.app.sessions() as session:
            query = select(func.count()).select_from(what)
            return int(await session.scalar(query.where(*where) if where else query) or 0)

    async def victim_alert(self, area: str) -> int:
        """An alert to `area` queued from the command line; return its id."""
        ctx = self.h.app.ctx
        now = utcnow()
        spec = AlertSpec("water", "normal", (area,), {"bn": "পানি বন্ধ থাকবে।"}, now, None)
        queued = await create_alert(
            self.h.app.sessions,
            spec,
            "cli:test",
            ctx.catalog,
            ctx.tz,
            QuietHours(),
            known_area=lambda code: ctx.tree.get(code) is not None,
        )
        return queued.alert_id


Outcome = tuple[str, list[str]]  # what the person saw, and the acts audited
ActRunner = Callable[[World, str], Awaitable[str]]


def _invite(role: str, area: str) -> ActRunner:
    async def run(world: World, actor: str) -> str:
        before = await world.invitation_count()
        [answer] = await world.people[actor].send(f"/invite {role} {area}")
        made = await world.invitation_count() - before
        if "/start inv-" in answer.text:
            assert made == 1
            return GRANTED
        assert made == 0, answer.text
        return _classify(answer.text)

    return run


async def _staff_list(world: World, actor: str) -> str:
    [answer] = await world.people[actor].send("/staff")
    return GRANTED if answer.text.startswith("Staff you manage") else _classify(answer.text)


def _revoke(role: Role, scope: str, *, forge: str | None = None) -> ActRunner:
    async def run(world: World, actor: str) -> str:
        grant_id = await world.victim_grant(role, scope)
        person = world.people[actor]
        data = f"stf:rv:{grant_id}"
        if forge == "unsigned":
            token = data
        elif forge == "other person's":
            token = world.signer.sign(data, ACTORS["national admin"][0] + 1)
        elif forge == "altered":
            other = await world.victim_grant(role, scope)
            token = world.signer.sign(f"stf:rv:{other}", person.user_id).replace(
                f"stf:rv:{other}", data
            )
        else:
            token = world.signer.sign(data, person.user_id)
        anchor = person.last()
        await person.press(anchor.message_id, token, forge=True)
        answer = world.h.emulator.callback_answer(person.last_callback_id)
        assert answer is not None
        async with world.h.app.sessions() as session:
            still = await grant_by_id(session, grant_id)
        if "Revoked" in (answer.text or ""):
            assert still is None
            return GRANTED
        assert still is not None, answer.text
        return _classify(answer.text or "")

    return run


def _token(world: World, forge: str | None, data: str, user_id: int) -> str:
    """Button data as the bot would sign it for `user_id`, or forged as named."""
    if forge == "unsigned":
        return data
    if forge == "other person's":
        return world.signer.sign(data, ACTORS["national admin"][0] + 1)
    if forge == "altered":
        other = f"{data}0"
        return world.signer.sign(other, user_id).replace(other, data)
    return world.signer.sign(data, user_id)


async def _press(world: World, person: Person, data: str) -> str:
    """Press a button carrying `data`; return its toast, else the text it left in the chat."""
    fresh = await person.press(person.last().message_id, data, forge=True)
    answer = world.h.emulator.callback_answer(person.last_callback_id)
    assert answer is not None
    return answer.text or (fresh[-1].text if fresh else "")


async def _tap_data(world: World, person: Person, data: str) -> str:
    """Tap the button on the latest buttoned message whose (signed) data is `data`; return its
    toast, else the text it left in the chat."""
    message = person.last_with_buttons()
    [token] = [d for row in message.buttons for _, d in row if d.split("|")[0] == data]
    fresh = await person.press(message.message_id, token)
    answer = world.h.emulator.callback_answer(person.last_callback_id)
    assert answer is not None
    return answer.text or (fresh[-1].text if fresh else "")


def _push(area: str, *, forge: str | None = None) -> ActRunner:
    """/push a lesson to an area and tap Send; forged: press a forged Send on an own draft."""

    async def run(world: World, actor: str) -> str:
        person = world.people[actor]
        queued = (LessonPush, LessonPush.status == "queued")
        before, drafts, outbox = (
            await world.count(*queued),
            await world.count(LessonPush),
            await world.count(OUTBOX),
        )
        if forge is None:
            [preview] = await person.send(f"/push pin-otp area {area}")
            if not preview.buttons:
                assert await world.count(LessonPush) == drafts, preview.text
                return _classify(preview.text)
            [[send, _]] = preview.buttons
            fresh = await person.press(preview.message_id, send[1])
            answer = world.h.emulator.callback_answer(person.last_callback_id)
            text = (answer.text if answer else "") or (fresh[-1].text if fresh else "")
        else:
            async with world.h.app.sessions() as session:
                draft = await draft_push(
                    session, "pin-otp", Target(area_code=KULAURA), utcnow(), person.user_id
                )
                await session.commit()
            token = _token(world, forge, f"tr:py:{draft.id}", person.user_id)
            text = await _press(world, person, token)
        made = await world.count(*queued) - before
        if made:
            assert made == 1 and _says(text, "trainer.push_sent"), text
            return GRANTED
        assert made == 0 and await world.count(OUTBOX) == outbox, text
        return _classify(text)

    return run


def _course(area: str, *, forge: str | None = None) -> ActRunner:
    """/course to an area and tap Send; forged: press a forged Send on an own draft course."""

    async def run(world: World, actor: str) -> str:
        person = world.people[actor]
        active = (Course, Course.status == "active")
        before, drafts = await world.count(*active), await world.count(Course)
        if forge is None:
            [preview] = await person.send(f"/course area {area} every 7 at 10:00 {COURSE_LESSONS}")
            if not preview.buttons:
                assert await world.count(Course) == drafts, preview.text
                return _classify(preview.text)
            [[send, _]] = preview.buttons
            fresh = await person.press(preview.message_id, send[1])
            answer = world.h.emulator.callback_answer(person.last_callback_id)
            text = (answer.text if answer else "") or (fresh[-1].text if fresh else "")
        else:
            ctx = world.h.app.ctx
            async with world.h.app.sessions() as session:
                draft, _ = await draft_course(
                    session,
                    COURSE_LESSONS.split(),
                    Target(area_code=KULAURA),
                    Schedule(7, parse_hhmm("10:00")),
                    person.user_id,
                    ctx.tz,
                    QuietHours(),
                )
                await session.commit()
            token = _token(world, forge, f"tr:cy:{draft.id}", person.user_id)
            text = await _press(world, person, token)
        made = await world.count(*active) - before
        if made:
            assert made == 1 and _says(text, "trainer.course_made"), text
            return GRANTED
        assert made == 0, text
        return _classify(text)

    return run


def _register(area: str, *, forge: str | None = None, skip_steps: bool = False) -> ActRunner:
    """/register a person without a phone, tapping through to "they agreed".

    `skip_steps`: press a (properly signed) final confirmation made up for the area, without
    /register having offered it; `forge`: the same button forged.
    """

    async def run(world: World, actor: str) -> str:
        person = world.people[actor]
        before = await world.count(Resident)
        if forge is None and not skip_steps:
            [question] = await person.send(f"/register {area}")
            if not question.buttons:
                assert await world.count(Resident) == before, question.text
                return _classify(question.text)
            steps = [f"rg:{area}:en", f"rg:{area}:en:-", f"rg:{area}:en:-:-"]
            for data in (*steps, f"rg:{area}:en:-:-:none", f"rg:ok:{area}:en:-:-:none"):
                text = await _tap_data(world, person, data)
        else:
            await person.send("/whoami")  # a fresh message for the button (an edit must change it)
            token = _token(world, forge, f"rg:ok:{area}:en:-:-:none", person.user_id)
            text = await _press(world, person, token)
        made = await world.count(Resident) - before
        if made:
            assert made == 1, text
            return GRANTED
        assert made == 0, text
        return _classify(text)

    return run


def _new_group(area: str) -> ActRunner:
    async def run(world: World, actor: str) -> str:
        person = world.people[actor]
        async with world.h.app.sessions() as session:
            before = len(await groups_of(session, person.user_id))
        [answer] = await person.send(f"/newgroup {area} Tea garden workshop")
        async with world.h.app.sessions() as session:
            made = len(await groups_of(session, person.user_id)) - before
        if made:
            assert made == 1 and answer.text.count(":") >= 1, answer.text
            return GRANTED
        assert made == 0, answer.text
        return _classify(answer.text)

    return run


def _report(command: str, area: str) -> ActRunner:
    """/reach or /missing for an area: read-only, so nothing to check but what is shown."""
    title = "Reach: " if command == "reach" else "Missing communities: "

    async def run(world: World, actor: str) -> str:
        answers = await world.people[actor].send(f"/{command} {area}")
        assert answers
        return GRANTED if title in answers[0].text else _classify(answers[0].text)

    return run


async def _compose(world: World, person: Person, area: str) -> str | None:
    """Drive /alert up to its preview for `area`; None when there, else the answer that stopped
    it (pressing the buttons the bot would sign, as a coordinator's taps do)."""
    answers = await person.send("/alert")
    if not any("What is it about?" in m.text for m in answers):
        return answers[0].text
    for data in ("al:t:water", "al:u:normal"):
        await _press(world, person, world.signer.sign(data, person.user_id))
    added = await _press(world, person, world.signer.sign(f"al:a:{area}", person.user_id))
    if "outside" in added:
        return added
    await _press(world, person, world.signer.sign("al:d", person.user_id))
    await person.send("আজ বিকেলে পানি সরবরাহ বন্ধ থাকবে।")
    for data in ("al:s", "al:w:now", "al:v:24"):
        shown = await _press(world, person, world.signer.sign(data, person.user_id))
    assert "Send" in str(person.last_with_buttons().buttons), shown
    return None


def _alert(area: str, *, forge: str | None = None) -> ActRunner:
    """Compose an alert to `area` and confirm it; forged: compose to Kulaura, press a forged
    confirmation."""

    async def run(world: World, actor: str) -> str:
        person = world.people[actor]
        before, outbox = await world.count(Alert), await world.count(OUTBOX)
        stopped = await _compose(world, person, area)
        drafts = await world.count(AlertDraft)
        if forge is None:
            if stopped is not None:
                assert await world.count(Alert) == before, stopped
                return _classify(stopped)
            text = await _press(world, person, world.signer.sign("al:ok", person.user_id))
        else:
            text = await _press(world, person, _token(world, forge, "al:ok", person.user_id))
        made = await world.count(Alert) - before
        if text.startswith("Alert #"):
            assert made == 1, text
            return GRANTED
        assert made == 0 and await world.count(OUTBOX) == outbox, text
        assert await world.count(AlertDraft) == drafts, text  # a forged tap consumes nothing
        return _classify(text)

    return run


def _cancel_alert(area: str, *, forge: str | None = None) -> ActRunner:
    """Press (a signed or forged) cancel button for an alert to `area` queued elsewhere."""

    async def run(world: World, actor: str) -> str:
        alert_id = await world.victim_alert(area)
        person = world.people[actor]
        token = _token(world, forge, f"al:k:{alert_id}", person.user_id)
        text = await _press(world, person, token)
        async with world.h.app.sessions() as session:
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            status = alert.status
        if text.startswith(f"Alert #{alert_id} cancelled"):
            assert status == "cancelled"
            return GRANTED
        assert status != "cancelled", text
        return _classify(text)

    return run


# Trainers answer in their language as a resident (Bangla by default), so denials are matched in
# every language.
_CATALOG = Catalog.load()
_DENIALS = [
    _CATALOG.raw(language, key)
    for language in LANGUAGES
    for key in (
        "trainer.not_your_area",
        "register.not_allowed",
        "reach.outside_scope",
        "alerts.not_your_area",
    )
]
_EXPIRED = [_CATALOG.raw(language, "error.expired") for language in LANGUAGES]
_UNKNOWN = [_CATALOG.raw(language, "error.unknown_command") for language in LANGUAGES]


def _says(text: str, key: str) -> bool:
    """Whether `text` is the catalog's `key` in some language (its longest fixed part)."""
    return any(
        max(re.split(r"\{[a-z_]+\}", _CATALOG.raw(language, key)), key=len) in text
        for language in LANGUAGES
    )


def _classify(text: str) -> str:
    if "not allowed" in text or "cannot revoke your own" in text:
        return DENIED
    if any(said in text for said in _DENIALS):
        return DENIED
    if any(said in text for said in _UNKNOWN):
        return UNKNOWN
    if "This button has expired" in text or any(said in text for said in _EXPIRED):
        return EXPIRED
    raise AssertionError(f"unexpected answer: {text!r}")


# act name → (runner, audited act when granted, expected outcome per actor in ACTORS order)
ACTS: dict[str, tuple[ActRunner, Act | None, tuple[str, str, str, str, str]]] = {
    "invite trainer to a union of Maulvibazar": (
        _invite("trainer", KULAURA_UNION),
        Act.INVITE_CREATED,
        (UNKNOWN, DENIED, GRANTED, GRANTED, GRANTED),
    ),
    "invite trainer to Sunamganj": (
        _invite("trainer", SUNAMGANJ),
        Act.INVITE_CREATED,
        (UNKNOWN, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "invite coordinator to Maulvibazar": (
        _invite("coordinator", MAULVIBAZAR),
        Act.INVITE_CREATED,
        (UNKNOWN, DENIED, DENIED, GRANTED, GRANTED),
    ),
    "invite coordinator to Sylhet division": (
        _invite("coordinator", SYLHET),
        Act.INVITE_CREATED,
        (UNKNOWN, DENIED, DENIED, DENIED, GRANTED),
    ),
    "invite a national admin": (
        _invite("admin", "national"),
        Act.INVITE_CREATED,
        (UNKNOWN, DENIED, DENIED, DENIED, GRANTED),
    ),
    "list staff": (_staff_list, None, (UNKNOWN, DENIED, DENIED, GRANTED, GRANTED)),
    "revoke a trainer of Kulaura": (
        _revoke(Role.TRAINER, KULAURA),
        Act.ROLE_REVOKED,
        (EXPIRED, DENIED, DENIED, GRANTED, GRANTED),
    ),
    "revoke a trainer of Sunamganj": (
        _revoke(Role.TRAINER, SUNAMGANJ),
        Act.ROLE_REVOKED,
        (EXPIRED, DENIED, DENIED, DENIED, GRANTED),
    ),
    "revoke a national admin": (
        _revoke(Role.ADMIN, ""),
        Act.ROLE_REVOKED,
        (EXPIRED, DENIED, DENIED, DENIED, GRANTED),
    ),
    "revoke with an unsigned button": (
        _revoke(Role.TRAINER, KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "revoke with someone else's button": (
        _revoke(Role.TRAINER, KULAURA, forge="other person's"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "revoke with an altered button": (
        _revoke(Role.TRAINER, KULAURA, forge="altered"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "push a lesson to Kulaura": (
        _push(KULAURA),
        Act.LESSON_PUSHED,
        (UNKNOWN, GRANTED, GRANTED, GRANTED, GRANTED),
    ),
    "push a lesson to Sunamganj": (
        _push(SUNAMGANJ),
        Act.LESSON_PUSHED,
        (UNKNOWN, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "push with an unsigned Send button": (
        _push(KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "push with someone else's Send button": (
        _push(KULAURA, forge="other person's"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "push with an altered Send button": (
        _push(KULAURA, forge="altered"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "schedule a course for Kulaura": (
        _course(KULAURA),
        Act.COURSE_PUSHED,
        (UNKNOWN, GRANTED, GRANTED, GRANTED, GRANTED),
    ),
    "schedule a course for Sunamganj": (
        _course(SUNAMGANJ),
        Act.COURSE_PUSHED,
        (UNKNOWN, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "schedule a course with an unsigned Send button": (
        _course(KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "schedule a course with someone else's Send button": (
        _course(KULAURA, forge="other person's"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "register a person in Kulaura": (
        _register(KULAURA),
        Act.PERSON_REGISTERED,
        (UNKNOWN, GRANTED, GRANTED, GRANTED, GRANTED),
    ),
    "register a person in Sunamganj": (
        _register(SUNAMGANJ),
        Act.PERSON_REGISTERED,
        (UNKNOWN, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "register in Sunamganj with a signed confirmation never offered": (
        _register(SUNAMGANJ, skip_steps=True),
        Act.PERSON_REGISTERED,
        (EXPIRED, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "register with an unsigned confirmation": (
        _register(KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "make a workshop group in Kulaura": (
        _new_group(KULAURA),
        None,
        (UNKNOWN, GRANTED, GRANTED, GRANTED, GRANTED),
    ),
    "make a workshop group in Sunamganj": (
        _new_group(SUNAMGANJ),
        None,
        (UNKNOWN, DENIED, GRANTED, DENIED, GRANTED),
    ),
    "reach of Maulvibazar": (
        _report("reach", MAULVIBAZAR),
        None,
        (UNKNOWN, UNKNOWN, GRANTED, GRANTED, GRANTED),
    ),
    "reach of Dhaka division": (
        _report("reach", DHAKA),
        None,
        (UNKNOWN, UNKNOWN, DENIED, DENIED, GRANTED),
    ),
    "missing communities of Maulvibazar": (
        _report("missing", MAULVIBAZAR),
        None,
        (UNKNOWN, UNKNOWN, GRANTED, GRANTED, GRANTED),
    ),
    "missing communities of Dhaka division": (
        _report("missing", DHAKA),
        None,
        (UNKNOWN, UNKNOWN, DENIED, DENIED, GRANTED),
    ),
    "alert Kulaura": (
        _alert(KULAURA),
        Act.ALERT_SENT,
        (UNKNOWN, UNKNOWN, GRANTED, GRANTED, GRANTED),
    ),
    "alert Sunamganj": (
        _alert(SUNAMGANJ),
        Act.ALERT_SENT,
        (UNKNOWN, UNKNOWN, GRANTED, DENIED, GRANTED),
    ),
    "alert Dhaka division": (
        _alert(DHAKA),
        Act.ALERT_SENT,
        (UNKNOWN, UNKNOWN, DENIED, DENIED, GRANTED),
    ),
    "alert with an unsigned Send button": (
        _alert(KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "alert with someone else's Send button": (
        _alert(KULAURA, forge="other person's"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "cancel an alert to Kulaura": (
        _cancel_alert(KULAURA),
        Act.ALERT_CANCELLED,
        (EXPIRED, EXPIRED, GRANTED, GRANTED, GRANTED),
    ),
    "cancel an alert to Sunamganj": (
        _cancel_alert(SUNAMGANJ),
        Act.ALERT_CANCELLED,
        (EXPIRED, EXPIRED, GRANTED, DENIED, GRANTED),
    ),
    "cancel an alert with an unsigned button": (
        _cancel_alert(KULAURA, forge="unsigned"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "cancel an alert with someone else's button": (
        _cancel_alert(KULAURA, forge="other person's"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
    "cancel an alert with an altered button": (
        _cancel_alert(KULAURA, forge="altered"),
        None,
        (EXPIRED, EXPIRED, EXPIRED, EXPIRED, EXPIRED),
    ),
}


@pytest.fixture
async def world(db_url: str) -> object:
    # Each actor sends many updates in a few seconds here; flood control is not under test.
    async with running_bot(db_url, flood_updates=100_000) as h:
        people: dict[str, Person] = {}
        async with h.app.sessions() as session:
            for name, (user_id, role, scope) in ACTORS.items():
                if role is not None:
                    await grant_role(session, user_id, role, scope, "cli:test", name=name)
            await session.commit()
            signer = CallbackSigner(await load_secret(session, os.environ))
            await session.commit()
        for name, (user_id, role, _) in ACTORS.items():
            if role is None:
                people[name] = await signed_up(h, user_id)
            else:
                people[name] = h.person(user_id, first_name=name.split()[0], language_code="en")
                await people[name].send("/whoami")
        yield World(h, signer, people)


def _feature(act: str) -> str:
    """The feature a row belongs to (its first word: invite, push, alert, …)."""
    return act.split()[0]


# One bot per feature, not per row, keeps the run short; a failing row does not hide the others.
FEATURES = list(dict.fromkeys(_feature(act) for act in ACTS))


@pytest.mark.parametrize("feature", FEATURES)
async def test_authorization_matrix(world: World, feature: str) -> None:
    failures = []
    for act in ACTS:
        if _feature(act) == feature:
            try:
                await _check_row(world, act)
            except AssertionError as exc:
                failures.append(f"{act}: {exc}")
    assert not failures, "\n".join(failures)


async def _check_row(world: World, act: str) -> None:
    runner, audited, expected = ACTS[act]
    outcomes: dict[str, str] = {}
    for index, actor in enumerate(ACTORS):
        before = await world.audit_count()
        outcomes[actor] = await runner(world, actor)
        async with world.h.app.sessions() as session:
            new = (await audit_entries(session))[before:]
            actor_staff = await staff_of(session, ACTORS[actor][0])
        # Setting up a victim is audited as cli:test; what the actor did is audited as them.
        theirs = [e for e in new if e.actor != "cli:test"]
        if outcomes[actor] == GRANTED and audited is not None:
            assert actor_staff is not None
            assert [(e.actor, e.act) for e in theirs] == [(actor_staff.pseudonym, audited)], act
        else:
            assert theirs == [], (act, actor, theirs)
        assert outcomes[actor] == expected[index], (act, actor, outcomes)


async def test_staff_see_roles_and_pseudonyms_never_residents_ids(world: World) -> None:
    admin = world.people["national admin"]
    [who] = await admin.send("/whoami")
    assert "admin: all of Bangladesh" in who.text
    [listing] = await admin.send("/staff")
    assert "coordinator (Sylhet)" in listing.text
    revoke_labels = [text for row in listing.buttons for text, _ in row]
    assert any("trainer, Maulvibazar" in label for label in revoke_labels)
    assert not any("national admin" in label for label in revoke_labels)  # not their own
    # Tap a real revoke button: it works, and the list is shown again.
    trainer_button = next(label for label in revoke_labels if "trainer" in label)
    await admin.tap(trainer_button, listing)
    revoked = world.h.emulator.callback_answer(admin.last_callback_id)
    assert revoked is not None and "Revoked" in (revoked.text or "")
    assert admin.last_text().startswith("Staff you manage")
    [whoami_none] = await world.people["resident"].send("/whoami")
    assert "no staff role" in whoami_none.text
    staff_chats = [uid for uid, role, _ in ACTORS.values() if role is not None]
    seen = " ".join(m.text for uid in staff_chats for m in world.h.emulator.messages(uid))
    async with world.h.app.sessions() as session:
        seen += repr(await audit_entries(session))
    assert str(RESIDENT_ID) not in seen
    for uid in staff_chats:
        assert str(uid) not in repr(await _audit(world))


async def _audit(world: World) -> object:
    async with world.h.app.sessions() as session:
        return await audit_entries(session)
