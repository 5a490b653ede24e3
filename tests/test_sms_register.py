"""`/register` in chat takes the number of a person's own or shared phone, with their consent."""

from __future__ import annotations

from sqlalchemy import select

from bot.residents.models import Resident
from bot.staff.roles import Role, grant_role
from tests.onboard import signed_up
from tests.smskit import running_sms
from tests.test_alerts import make_coordinator, urgent_water_alert_for_kulaura

NUMBER = "+8801712345678"


async def test_a_registered_number_gets_alerts_by_sms(db_url: str) -> None:
    async with running_sms(db_url) as h:
        async with h.bot.app.sessions.begin() as session:
            await grant_role(session, 7101, Role.TRAINER, "605865", "cli:test")
        trainer = await signed_up(h.bot, 7101, first_name="Trainer")
        await trainer.send("/register Kulaura")
        await trainer.tap("English")
        await trainer.tap("Skip")
        await trainer.tap("Skip")
        [asked] = await trainer.tap("Own basic phone")
        assert "Type the number" in asked.text
        [bad] = await trainer.send("0199988")
        assert "not a mobile number" in bad.text and "0199988" not in bad.text
        [consent] = await trainer.send("০১৭১২ ৩৪৫৬৭৮")
        assert "••678" in consent.text and "1712345" not in consent.text
        [confirm] = await trainer.tap("Yes, alerts by SMS")
        assert "Alerts by SMS to •••" in confirm.text and "678." in confirm.text
        [done] = await trainer.tap("Yes, they agreed")
        assert "Registered" in done.text and "1712345" not in done.text
        async with h.bot.app.sessions() as session:
            [person] = (
                await session.scalars(select(Resident).where(Resident.channel == "assisted"))
            ).all()
            assert (person.phone, person.phone_access, person.language) == (NUMBER, "own", "en")
        # Typed text after registering is the trainer's own conversation again.
        [menu] = await trainer.send("hello")
        assert "mobile number" not in menu.text
        coordinator = await make_coordinator(h.bot, 9500)
        await urgent_water_alert_for_kulaura(coordinator)
        await coordinator.tap("Kulaura, Maulvibazar")
        await coordinator.tap("Done with areas")
        await coordinator.send("পানি ফুটিয়ে খান।")
        await coordinator.send("Boil water before drinking.")
        await coordinator.tap("Now")
        summary = (await coordinator.tap("24 hours"))[-1]
        assert "SMS: <5 residents × 1 parts = <5 SMS (English)" in summary.text
        await coordinator.tap("✅ Send")
        await h.channel.sender.drain(horizon=1)
        [sms] = h.kannel.to(NUMBER)
        assert sms.text == "Sabai URGENT Water supply: Boil water before drinking."


async def test_no_number_registers_without_sms(db_url: str) -> None:
    async with running_sms(db_url) as h:
        async with h.bot.app.sessions.begin() as session:
            await grant_role(session, 7102, Role.TRAINER, "605865", "cli:test")
        trainer = await signed_up(h.bot, 7102, first_name="Trainer")
        await trainer.send("/register Kulaura")
        await trainer.tap("English")
        await trainer.tap("Skip")
        await trainer.tap("Skip")
        await trainer.tap("Shares a phone")
        await trainer.send("01712345678")
        await trainer.tap("No number")
        [done] = await trainer.tap("Yes, they agreed")
        assert "Registered" in done.text
        async with h.bot.app.sessions() as session:
            phones = list(await session.scalars(select(Resident.phone)))
        assert phones.count(None) == len(phones)
