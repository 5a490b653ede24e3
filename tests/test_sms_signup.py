"""Residents on any phone: sign-up and the keywords by SMS, in Bangla and English."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels.sms.parts import parts
from bot.core.db import create_engine, session_factory
from bot.residents.models import Resident
from tests.smskit import running_sms
from tests.test_privacy import _scan_for

NUMBER = "+8801712345678"


async def _resident(db_url: str, number: str = NUMBER) -> Resident | None:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            return await session.scalar(select(Resident).where(Resident.phone == number))
    finally:
        await engine.dispose()


async def test_sign_up_in_english_by_typing_only(db_url: str) -> None:
    async with running_sms(db_url) as h:
        phone = h.phone(NUMBER)
        [welcome] = await phone.send("hello")
        assert "1 বাংলা 2 English" in welcome
        [area] = await phone.send("2")
        assert "Type the name of your union" in area
        [place, privacy] = await phone.send("Kulaura")
        assert place == "Area: Kulaura, Maulvibazar."
        assert "staff see only counts" in privacy and "1 YES 2 NO" in privacy
        [joined] = await phone.send("YES")
        assert "STOP" in joined and "DELETE" in joined
        for text in (welcome, area, place, privacy, joined):
            assert parts(text) <= 2, text
        resident = await _resident(db_url)
        assert resident is not None and resident.channel == "sms"
        assert resident.consent_at is not None and resident.telegram_id is None
        assert resident.language == "en" and resident.area_code is not None


async def test_sign_up_in_bangla_with_a_numbered_pick(db_url: str) -> None:
    async with running_sms(db_url) as h:
        phone = h.phone("01812345678")  # local form, as some gateways pass it
        [welcome] = await phone.send("যোগ")
        assert "1 বাংলা" in welcome
        [area] = await phone.send("১")
        assert "ইউনিয়ন" in area
        [pick] = await phone.send("সদর")
        assert pick.startswith("কোনটি?") and "\n১ " in pick and "\n২ " in pick
        [place, privacy] = await phone.send("২")
        assert place.startswith("এলাকা:")
        assert parts(privacy) <= 2 and "রাজি?" in privacy
        [joined] = await phone.send("হ্যাঁ")
        assert "বন্ধ" in joined and parts(joined) <= 2
        resident = await _resident(db_url, "+8801812345678")
        assert resident is not None and resident.language == "bn"
        assert resident.consent_at is not None


async def test_an_unknown_place_is_asked_again(db_url: str) -> None:
    async with running_sms(db_url) as h:
        phone = h.phone(NUMBER)
        await phone.send("JOIN")
        await phone.send("English")
        [missing, again] = await phone.send("Xqzzyville")
        assert missing.startswith("No place called Xqzzyville")
        assert "Type the name" in again


async def test_declining_keeps_nothing(db_url: str) -> None:
    async with running_sms(db_url) as h:
        phone = h.phone(NUMBER)
        for text in ("JOIN", "2", "Kulaura"):
            await phone.send(text)
        [declined] = await phone.send("NO")
        assert "nothing was kept" in declined
        assert await _resident(db_url) is None


async def _signed_up(h, number: str = NUMBER, language: str = "2") -> None:  # type: ignore[no-untyped-def]
    phone = h.phone(number)
    for text in ("JOIN", language, "Kulaura", "1"):
        await phone.send(text)


async def test_keywords_in_english(db_url: str) -> None:
    async with running_sms(db_url) as h:
        await _signed_up(h)
        phone = h.phone(NUMBER)
        [help_] = await phone.send("help")
        assert "STOP" in help_ and "LANG" in help_
        [info] = await phone.send("INFO")
        assert NUMBER in info and "Kulaura" in info and "English" in info
        [area] = await phone.send("Area")
        assert "Type the name" in area
        [moved] = await phone.send("Sreemangal")
        assert moved.startswith("Area: Sreemangal")
        [lang] = await phone.send("LANG")
        assert "1 বাংলা" in lang
        [bangla] = await phone.send("1")
        assert "বাংলা" in bangla
        [help_bn] = await phone.send("সাহায্য")
        assert "বন্ধ" in help_bn
        [stopped] = await phone.send("STOP")
        assert "চালু" in stopped
        assert (await _resident(db_url)).status == "stopped"  # type: ignore[union-attr]
        assert await phone.send("Kulaura") == []
        [resumed] = await phone.send("চালু")
        assert "বন্ধ" in resumed
        assert (await _resident(db_url)).status == "active"  # type: ignore[union-attr]


async def test_keywords_in_bangla_and_delete_leaves_nothing(db_url: str) -> None:
    number = "+8801912345678"
    async with running_sms(db_url) as h:
        await _signed_up(h, number, language="১")
        phone = h.phone(number)
        [info] = await phone.send("তথ্য")
        assert number in info and "এলাকা" in info
        [confirm] = await phone.send("মুছুন")
        assert "১ হ্যাঁ ২ না" in confirm
        [kept] = await phone.send("না")
        assert "মোছা হয়নি" in kept
        await phone.send("মুছুন")
        [deleted] = await phone.send("১")
        assert "মুছে ফেলা হলো" in deleted
        assert await _resident(db_url, number) is None
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                found = await _scan_for(conn, [number, number.lstrip("+"), number[-10:]])
        finally:
            await engine.dispose()
        assert found == []
        [nothing] = await phone.send("INFO")
        assert "কিছুই" in nothing or "nothing" in nothing


async def test_the_endpoints_refuse_a_wrong_secret_and_bad_input(db_url: str) -> None:
    async with running_sms(db_url) as h:
        assert await h.get("/kannel/mo", **{"from": NUMBER, "text": "JOIN"}) == 403
        assert await h.get("/kannel/mo", secret="wrong", **{"from": NUMBER, "text": "JOIN"}) == 403
        assert await h.get("/kannel/dlr", secret="nope", id="1", status="1") == 403
        assert h.kannel.sent == [] and await _resident(db_url) is None
        secret = "test-secret-0123456789"
        assert await h.get("/kannel/mo", secret=secret, **{"from": "hello", "text": "x"}) == 400
        assert await h.get("/kannel/mo", secret=secret, **{"from": NUMBER, "text": " "}) == 200
        assert h.kannel.sent == []
        [too_long] = await h.phone(NUMBER).send("a" * 2000)
        assert "too long" in too_long or "লম্বা" in too_long
        assert await h.get("/kannel/dlr", secret=secret, id="999999", status="1") == 200
        assert await h.get("/kannel/dlr", secret=secret, id="x", status="1") == 400
