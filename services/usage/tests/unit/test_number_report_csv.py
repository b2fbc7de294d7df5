"""The number usage report's rows and CSV: pure, no I/O."""

from datetime import UTC, date, datetime
from decimal import Decimal

from tally_usage.number_report import NumberUsage, NumberUsageReport, report_csv


def test_given_numbers_then_the_csv_has_a_header_and_a_row_each_in_the_json_spelling() -> None:
    report = NumberUsageReport(
        month="2026-11",
        time_zone="America/Chicago",
        generated_at=datetime(2026, 11, 15, 18, tzinfo=UTC),
        numbers=[
            NumberUsage(
                "+15550001001",
                "promo",
                date(2026, 11, 1),
                date(2026, 11, 2),
                2,
                1,
                Decimal("2.500"),
                True,
            ),
            NumberUsage(
                "+15550001005",
                None,
                date(2026, 11, 12),
                date(2026, 11, 12),
                1,
                1,
                Decimal("0.5"),
                False,
            ),
        ],
    )

    assert report_csv(report).split("\r\n") == [
        "phone_number,number_type,promo,first_used,last_used,days_used,calls,minutes,in_use",
        "+15550001001,promo,true,2026-11-01,2026-11-02,2,1,2.5,true",
        "+15550001005,,false,2026-11-12,2026-11-12,1,1,0.5,false",
        "",
    ]


def test_given_a_number_then_its_row_flags_promo_and_spells_minutes_as_a_decimal() -> None:
    number = NumberUsage(
        "+1555", "local", date(2026, 11, 3), date(2026, 11, 14), 3, 3, Decimal("4.250000"), True
    )

    assert number.as_row() == {
        "phone_number": "+1555",
        "number_type": "local",
        "promo": False,
        "first_used": "2026-11-03",
        "last_used": "2026-11-14",
        "days_used": 3,
        "calls": 3,
        "minutes": "4.25",
        "in_use": True,
    }
