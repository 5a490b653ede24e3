"""Role checks for routers: load the caller's staff roles once per update, filter on them.

Wiring (done once in `build_dispatcher`): `StaffMiddleware` as an outer update middleware
after the session middleware. It puts a lazy `staff_lookup` into the update's data; nothing is
read from the database until a role filter asks, and then only once per update.

In a router (the trainers', the coordinators'…)::

    router = Router(name="trainer")
    # Cheap filters first: a role is looked up only for updates that pass them.
    router.message.filter(private_chat(), Command("push"), HasRole(Role.TRAINER))
    router.callback_query.filter(when(F.data.startswith("tr:")), HasRole(Role.TRAINER))

    @router.message(Command("push"))
    async def push(message: Message, staff: Staff, signer: CallbackSigner, ...) -> None:
        if not staff.can(Role.TRAINER, area_code): ...  # the scope check is per area
        button_data = signer.sign(f"tr:push:{lesson_id}:{area_code}", message.chat.id)

    @router.callback_query(when(F.data.startswith("tr:")))
    async def tap(query: CallbackQuery, staff: Staff, signer: CallbackSigner) -> None:
        try:
            data = signer.verify(query.data or "", query.from_user.id)
        except BadSignature:
            await query.answer(expired_text, show_alert=True)
            return

`HasRole(role)` passes when the person holds `role` or a higher one anywhere; give it an
`area` to require a scope covering that area. When it passes, handlers may take `staff: Staff`
and `signer: CallbackSigner`. An update it refuses goes on to the next router (the resident
router answers an unknown command or an expired button), so non-staff learn nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.filters import Filter
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.callback_sign import SignerSource
from bot.staff.roles import RANK, Role, Staff, staff_of

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class StaffLookup:
    """The caller's staff roles, read from the database on first use and then remembered."""

    def __init__(self, session: AsyncSession | None, telegram_id: int | None) -> None:
        self._session = session
        self._telegram_id = telegram_id
        self._loaded = False
        self._staff: Staff | None = None

    async def get(self) -> Staff | None:
        if not self._loaded:
            self._loaded = True
            if self._session is not None and self._telegram_id is not None:
                self._staff = await staff_of(self._session, self._telegram_id)
        return self._staff


def session_of(data: dict[str, Any]) -> AsyncSession | None:
    """The update's database session, as the session middleware handed it on."""
    session = data.get("session")
    if isinstance(session, AsyncSession):
        return session
    conversation = data.get("conversation")
    found = getattr(conversation, "session", None)
    return found if isinstance(found, AsyncSession) else None


class StaffMiddleware(BaseMiddleware):
    """Give every update a lazy `staff_lookup` and the `signer_source` for staff buttons."""

    def __init__(self, signer_source: SignerSource) -> None:
        self.signer_source = signer_source

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        telegram_id = user.id if user is not None and not user.is_bot else None
        data["staff_lookup"] = StaffLookup(session_of(data), telegram_id)
        data["signer_source"] = self.signer_source
        return await handler(event, data)


class HasRole(Filter):
    """Pass for people holding `role` (or higher) anywhere, or covering `area` when given."""

    def __init__(self, role: Role = Role.TRAINER, area: str | None = None) -> None:
        self.role = role
        self.area = area

    async def __call__(
        self,
        event: TelegramObject,
        staff_lookup: StaffLookup | None = None,
        signer_source: SignerSource | None = None,
    ) -> bool | dict[str, Any]:
        if staff_lookup is None or signer_source is None:
            return False
        staff = await staff_lookup.get()
        if staff is None:
            return False
        if self.area is None:
            allowed = any(RANK[g.role] >= RANK[self.role] for g in staff.grants)
        else:
            allowed = staff.can(self.role, self.area)
        if not allowed:
            return False
        return {"staff": staff, "signer": await signer_source.get()}
