"""Posts a realistic sample week of ILS events, as the library's ILS would.

About twenty patrons: online loans shipped to several cooperating libraries (one patron's
items posted in two events), holds ready at the Prefectural Library, a cancelled hold,
overdue loans (one returned before its reminder), an expired card, one address with
a registration mistake (Q6), and one patron who changes the address before the Saturday
mail (which then goes to the new address). ``python -m tools.ils_simulator --thursday 2026-12-03``.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, datetime, time, timedelta

from shared.bus.connect import connect
from shared.bus.publish import publish
from shared.clock import JST
from shared.contracts import (
    Event,
    HoldCancelled,
    HoldReady,
    LoanItem,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
    PatronEmailChanged,
    PatronLoanSuspended,
)
from shared.settings import CommonSettings, load_settings

TITLES = [
    "津軽",
    "走れメロス",
    "斜陽",
    "銀河鉄道の夜",
    "注文の多い料理店",
    "奥の細道",
    "書を捨てよ、町へ出よう",
    "青森ねぶた誌",
    "りんごの四季",
    "縄文の世界　三内丸山遺跡",
    "白神山地の森",
    "八甲田山死の彷徨",
    "津軽三味線ひとり旅",
    "十和田湖と奥入瀬渓流",
    "南部せんべいの本",
    "恐山",
]
DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "i.softbank.jp", "gmail.com", "yahoo.co.jp"]


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), JST)


def sample_week(thursday: date) -> list[Event]:
    """The events of one week, in the order the ILS would post them."""
    events: list[Event] = []
    due = thursday + timedelta(days=17)  # two weeks from the Sunday pickup start
    libraries = [1, 17, 17, 23, 30, 38, 45, 52, 9, 59, 12, 40]
    for n, library_no in enumerate(libraries):
        patron = f"P11002{n:05d}"
        items = [
            LoanItem(
                loan_id=f"L{thursday:%Y%m%d}-{n:03d}{k}",
                item_id=f"10{n:04d}{k:04d}",
                title=TITLES[(n * 3 + k) % len(TITLES)],
                due_date=due,
            )
            for k in range(1 + n % 3)
        ]
        email = f"patron{n:02d}@{DOMAINS[n % len(DOMAINS)]}"
        chunks = [items[:1], items[1:]] if n == 2 and len(items) > 1 else [items]
        for part, chunk in enumerate(chunks):
            events.append(
                LoanOnlineIssued(
                    event_id=f"ils-{thursday:%Y%m%d}-loan-{n:03d}-{part}",
                    occurred_at=_at(thursday, 11, n),
                    patron_id=patron,
                    email=email,
                    batch_thursday=thursday,
                    pickup_library_no=library_no,
                    items=chunk,
                )
            )
    for n in range(5):
        patron = f"P11003{n:05d}"
        email = f"holder{n:02d}@{DOMAINS[(n + 2) % len(DOMAINS)]}"
        if n == 4:
            email = "holder04＠docomo.ne.jp"  # a registration mistake: full-width at sign
        events.append(
            HoldReady(
                event_id=f"ils-{thursday:%Y%m%d}-hold-{n:03d}",
                occurred_at=_at(thursday, 14, n),
                patron_id=patron,
                email=email,
                hold_id=f"H{thursday:%Y}-{n:05d}",
                item_id=f"20{n:08d}",
                title=TITLES[(n + 5) % len(TITLES)],
                secured_at=_at(thursday, 13, 50),
                pickup_deadline=thursday + timedelta(days=8),
            )
        )
    events.append(
        HoldCancelled(
            event_id=f"ils-{thursday:%Y%m%d}-cancel-000",
            occurred_at=_at(thursday, 9, 0),
            patron_id="P1100400001",
            email="cancelled@ezweb.ne.jp",
            hold_id=f"H{thursday:%Y}-99001",
            title="斜陽",
            pickup_deadline=thursday - timedelta(days=1),
        )
    )
    for n, level in enumerate((1, 2, 3)):
        events.append(
            LoanOverdue(
                event_id=f"ils-{thursday:%Y%m%d}-overdue-{n:03d}",
                occurred_at=_at(thursday, 6, n),
                patron_id=f"P11005{n:05d}",
                email=f"late{n:02d}@{DOMAINS[n % len(DOMAINS)]}",
                loan_id=f"L-OLD-{n:04d}",
                item_id=f"30{n:08d}",
                title=TITLES[(n + 9) % len(TITLES)],
                due_date=thursday - timedelta(days=7 * level),
                reminder_level=level,
            )
        )
    events.append(
        LoanReturned(
            event_id=f"ils-{thursday:%Y%m%d}-returned-000",
            occurred_at=_at(thursday, 16, 0),
            patron_id="P1100500000",
            loan_id="L-OLD-0000",
            returned_at=_at(thursday, 15, 55),
        )
    )
    events.append(
        PatronLoanSuspended(
            event_id=f"ils-{thursday:%Y%m%d}-suspended-000",
            occurred_at=_at(thursday, 10, 0),
            patron_id="P1100600001",
            email="expired.card@i.softbank.jp",
            reason="card_expired",
            card_expired_on=thursday - timedelta(days=3),
        )
    )
    events.append(
        PatronEmailChanged(
            event_id=f"ils-{thursday:%Y%m%d}-email-000",
            occurred_at=_at(thursday, 17, 30),
            patron_id="P1100200003",
            new_email="patron03.new@gmail.com",
            old_email=f"patron03@{DOMAINS[3]}",
        )
    )
    return events


async def post(settings: CommonSettings, thursday: date) -> int:
    nc = await connect(settings, name="otayori-ils-simulator")
    try:
        js = nc.jetstream()
        events = sample_week(thursday)
        for event in events:
            await publish(js, event)
    finally:
        await nc.close()
    return len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--thursday", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    if args.thursday.isoweekday() != 4:
        parser.error(f"{args.thursday} is not a Thursday")
    count = asyncio.run(post(load_settings(CommonSettings), args.thursday))
    print(f"posted {count} ILS events for the batch of {args.thursday}")


if __name__ == "__main__":
    main()
