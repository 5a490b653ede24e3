"""The authorization matrix: every privileged chat command and button, as every role, in and
out of scope, and forged. Every denial holds, every grant works, every act is audited.

Issues 3–5 add their commands as rows of ACTS (an act, its expected outcome per actor, and how
to tell that it took effect); the harness runs each row as each actor.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.audit import Act, audit_entries
from bot.callback_sign import CallbackSigner, load_secret
from bot.roles import Role, grant_by_id, grant_role, staff_of
from bot.staff_models import Invitation
from tests.botkit import Harness, Person, running_bot
from tests.onboard import signed_up

SYLHET, MAULVIBAZAR, SUNAMGANJ, KULAURA, KULAURA_UNION = "60", "6058", "6090", "605865", "60586565"
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


def _classify(text: str) -> str:
    if "not allowed" in text or "cannot revoke your own" in text:
        return DENIED
    if "I don't know that command" in text:
        return UNKNOWN
    if "This button has expired" in text:
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
}


@pytest.fixture
async def world(db_url: str) -> object:
    async with running_bot(db_url) as h:
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


@pytest.mark.parametrize("act", list(ACTS))
async def test_authorization_matrix(world: World, act: str) -> None:
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
    assert "Revoked" in (world.h.emulator.callback_answer(admin.last_callback_id).text or "")
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
