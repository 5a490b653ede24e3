"""A coordinator writing an alert in chat gives residents on SMS a short text of their own."""

from __future__ import annotations

from tests.botkit import Person
from tests.smskit import SmsHarness, running_sms
from tests.test_alerts import make_coordinator, urgent_water_alert_for_kulaura

NUMBER = "+8801712345678"
LONG = "Water will be off in the whole union for repairs of the main pipe. " * 6
SHORT = "Water off today for repairs. Store water now."


async def _long_alert(h: SmsHarness) -> Person:
    """An English reader on SMS in Kulaura, and a coordinator who typed a long alert for it."""
    phone = h.phone(NUMBER)
    for text in ("JOIN", "2", "Kulaura", "1"):
        await phone.send(text)
    coordinator = await make_coordinator(h.bot, 9400)
    await urgent_water_alert_for_kulaura(coordinator)
    await coordinator.tap("Kulaura, Maulvibazar")
    await coordinator.tap("Done with areas")
    await coordinator.send(LONG)
    [asked] = await coordinator.send(LONG)
    assert "Short text for SMS (Bangla)" in asked.text
    return coordinator


async def test_the_typed_sms_text_is_what_residents_on_sms_get(db_url: str) -> None:
    async with running_sms(db_url) as h:
        coordinator = await _long_alert(h)
        [english] = await coordinator.send("পানি বন্ধ আজ।")
        assert "Short text for SMS (English)" in english.text
        await coordinator.send(SHORT)
        await coordinator.tap("Now")
        summary = (await coordinator.tap("24 hours"))[-1]
        assert "SMS: <5 residents × 1 parts = <5 SMS (English)" in summary.text
        await coordinator.tap("✅ Send")
        before = len(h.kannel.to(NUMBER))
        await h.channel.sender.drain(horizon=1)
        got = [sent.text for sent in h.kannel.to(NUMBER)[before:]]
        assert got == [f"Sabai URGENT Water supply: {SHORT}"]


async def test_without_a_short_text_the_refusal_points_to_the_sms_step(db_url: str) -> None:
    async with running_sms(db_url) as h:
        coordinator = await _long_alert(h)
        [english] = await coordinator.tap("Skip SMS text")
        assert "Short text for SMS (English)" in english.text
        [too_long] = await coordinator.send("x" * 600)
        assert "The English SMS text takes 5 parts; 3 at most." in too_long.text
        await coordinator.tap("Skip SMS text")
        await coordinator.tap("Now")
        summary = (await coordinator.tap("24 hours"))[-1]
        assert "The Bangla text is too long for SMS (7 parts)" in summary.text
        refused = (await coordinator.tap("✅ Send"))[0]
        assert "tap “Short SMS text”" in refused.text and "--sms" not in refused.text
        [asked] = await coordinator.tap("Short SMS text")
        assert "Short text for SMS (Bangla)" in asked.text
        before = len(h.kannel.to(NUMBER))
        await h.channel.sender.drain(horizon=1)
        assert len(h.kannel.to(NUMBER)) == before
