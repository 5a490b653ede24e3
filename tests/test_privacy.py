"""/mydata shows everything kept; /forget leaves nothing that identifies the resident."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.botkit import running_bot
from tests.onboard import signed_up


async def test_mydata_shows_everything_kept(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 6001, first_name="Salma", username="salma_k")
        [data] = await person.send("/mydata")
        for expected in ("6001", "Salma", "@salma_k", "English", "Kulaura, Maulvibazar"):
            assert expected in data.text, expected
        assert "Recorded actions" in data.text


async def test_mydata_in_bangla_uses_bengali_digits_and_months(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 6002, language="বাংলা", area="কুলাউড়া", first_name="Salma")
        [data] = await person.send("/mydata")
        assert "টেলিগ্রাম আইডি (ফোন নম্বর নয়): 6002" in data.text
        months = (
            "জানুয়ারী",
            "ফেব্রুয়ারী",
            "মার্চ",
            "এপ্রিল",
            "মে",
            "জুন",
            "জুলাই",
            "আগস্ট",
            "সেপ্টেম্বর",
            "অক্টোবর",
            "নভেম্বর",
            "ডিসেম্বর",
        )
        assert any(month in data.text for month in months)
        consent_line = next(line for line in data.text.splitlines() if "রাজি হয়েছেন" in line)
        assert not any(ch.isascii() and ch.isdigit() for ch in consent_line)


async def _scan_for(conn: AsyncConnection, needles: list[str]) -> list[str]:
    """Every table/column whose text mentions one of the needles."""

    def tables(sync_conn):  # type: ignore[no-untyped-def]
        insp = inspect(sync_conn)
        return {t: [c["name"] for c in insp.get_columns(t)] for t in insp.get_table_names()}

    found = []
    for table, columns in (await conn.run_sync(tables)).items():
        rows = (await conn.execute(text(f'SELECT * FROM "{table}"'))).all()
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                if value is not None and any(n in str(value) for n in needles):
                    found.append(f"{table}.{column}={value!r}")
    return found


async def test_forget_leaves_no_personal_data(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 987654321, first_name="Zarina", username="zarina_unique")
        await person.send("/mydata")
        await person.tap("⚙")  # a tap that is logged as an event
        needles = ["987654321", "Zarina", "zarina_unique"]
        async with h.app.engine.connect() as conn:
            assert await _scan_for(conn, needles), "the resident was stored before /forget"
            events_before = (await conn.execute(text("SELECT count(*) FROM events"))).scalar()

        [confirm] = await person.send("/forget")
        assert "Delete everything?" in confirm.text
        replies = await person.tap("Yes, delete everything")
        assert "Everything that identified you has been deleted" in replies[0].text

        async with h.app.engine.connect() as conn:
            assert await _scan_for(conn, needles) == []
            events_after = (await conn.execute(text("SELECT count(*) FROM events"))).scalar()
            # The area's counts survive, detached from the person.
            assert events_after is not None and events_before is not None
            assert events_after >= events_before
        [nothing] = await person.send("/mydata")
        assert "We keep nothing about you" in nothing.text or "আমরা কিছুই রাখি না" in nothing.text


async def test_forget_can_be_cancelled_and_a_stale_confirm_does_nothing(db_url: str) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 6003, first_name="Kamal")
        [confirm] = await person.send("/forget")
        yes_data = next(data for row in confirm.buttons for label, data in row if "Yes" in label)
        await person.tap("No, keep it")
        assert "Nothing was deleted" in person.chat()[-2].text or "Nothing was deleted" in (
            person.last().text
        )
        # The old "yes" button, pressed later, must not delete anything.
        await person.press(confirm.message_id, yes_data, forge=True)
        answer = h.emulator.callback_answer(person.last_callback_id)
        assert answer is not None and "expired" in (answer.text or "")
        [data] = await person.send("/mydata")
        assert "Kamal" in data.text
