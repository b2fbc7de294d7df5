"""The invoice PDF: read back as text, it carries the JSON's numbers, dates and wording."""

import io
from typing import Any

from pypdf import PdfReader
from tally_invoicing.invoice_document import InvoiceDocument
from tally_invoicing.invoice_pdf import render_invoice_pdf

SID = "AC" + "0123456789abcdef" * 2


def invoice(**changes: Any) -> InvoiceDocument:
    document: dict[str, Any] = {
        "invoice_id": "INabc123",
        "account_sid": SID,
        "month": "2026-10",
        "time_zone": "America/Chicago",
        # Chicago's October: from 05:00Z on the 1st to 05:00Z on 1 November (CDT, UTC-5)
        "period": {"start": "2026-10-01T05:00:00Z", "end": "2026-11-01T05:00:00Z"},
        "billing_mode": "invoiced",
        "status": "issued",
        "issued_at": "2026-11-03T04:30:00Z",  # still 2 November in Chicago (CST, UTC-6)
        "currency": "USD",
        "lines": [
            {
                "kind": "usage",
                "category": "calls-outbound",
                "description": "Outbound calls",
                "quantity": "12000",
                "unit": "minutes",
                "unit_price": "0.013833",
                "amount": "166.00",
            },
            {"kind": "discount", "description": "Discount 10%", "amount": "-16.60"},
            {"kind": "adjustment", "description": "Frozen prepaid balance", "amount": "-4.25"},
        ],
        "subtotal": "166.00",
        "total": "145.15",
        "prepaid_applied": "20.15",
        "amount_due": "125.00",
        "no_balance_due": False,
        "due_date": "2026-12-02",
        "po_number": "PO-4471",
        "billing_address": {
            "line1": "1 Main St",
            "city": "Chicago",
            "region": "IL",
            "postal_code": "60601",
            "country": "US",
        },
        "recipients": ["ap@acme.example"],
    }
    return InvoiceDocument.model_validate(document | changes)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_given_an_invoiced_invoice_then_the_pdf_shows_its_numbers_due_date_po_and_address() -> None:
    # when an invoiced account's invoice is rendered
    text = text_of(render_invoice_pdf(invoice()))

    # then every line and total reads as in the JSON, with what is due and by when
    for expected in (
        "Outbound calls 12000 minutes 0.013833 166.00",
        "Discount 10% -16.60",
        "Frozen prepaid balance -4.25",
        "Subtotal (USD) 166.00",
        "Total (USD) 145.15",
        "Prepaid applied (USD) 20.15",
        "Amount due (USD) 125.00",
        "Due date: 2026-12-02",
        "PO number: PO-4471",
        "Bill to: 1 Main St",
        "Chicago IL 60601",
        "Recipients: ap@acme.example",
    ):
        assert expected in text
    assert "No balance due" not in text


def test_given_an_invoice_then_its_period_and_issue_are_local_dates_of_the_account_zone() -> None:
    text = text_of(render_invoice_pdf(invoice()))

    # then the period is Chicago's October and the issue 2 November there (3 November in UTC)
    assert "Period: 2026-10-01 to 2026-10-31 (America/Chicago)" in text
    assert "Issued: 2026-11-02 22:30 (America/Chicago)" in text


def test_given_a_pay_as_you_go_invoice_then_the_pdf_says_no_balance_due() -> None:
    # given a pay-as-you-go invoice the prepaid balance paid
    paygo = invoice(
        billing_mode="pay_as_you_go",
        lines=[{"kind": "usage", "description": "Outbound calls", "amount": "12.50"}],
        subtotal="12.50",
        total="12.50",
        prepaid_applied="12.50",
        amount_due="0.00",
        no_balance_due=True,
        due_date=None,
        po_number=None,
        billing_address=None,
        recipients=[],
    )

    # when it is rendered, then it says so, and asks for no payment
    text = text_of(render_invoice_pdf(paygo))
    assert "No balance due" in text
    assert "Amount due (USD) 0.00" in text
    assert "Due date" not in text and "Please pay" not in text


def test_given_the_same_invoice_twice_then_the_pdfs_are_the_same_bytes() -> None:
    assert render_invoice_pdf(invoice()) == render_invoice_pdf(invoice())


def test_given_text_outside_latin_1_then_the_pdf_is_still_rendered() -> None:
    # given a billing address in Tokyo, written in Japanese
    address = {"line1": "千代田区1-1", "city": "東京", "postal_code": "100-0001", "country": "JP"}

    # then the PDF renders (the core fonts print what they lack as "?")
    assert "Bill to: ?" in text_of(render_invoice_pdf(invoice(billing_address=address)))
