"""An invoice as a PDF: the same numbers as its JSON, dated in the account's time zone.

Pure: an `InvoiceDocument` in, the PDF's bytes out; the same invoice always gives the same
bytes (the PDF's creation date is the invoice's issue instant), so a cached copy and a fresh
rendering never differ.
"""

from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from tally_invoicing.invoice_document import InvoiceDocument

NO_BALANCE_DUE = "No balance due"
"""What a pay-as-you-go or trial invoice says: the prepaid balance already paid it."""

_FONT = "Helvetica"
_LINE = 6.0
_COLUMNS = (78.0, 28.0, 24.0, 28.0, 28.0)
"""Widths (mm) of description, quantity, unit, unit price and amount: the page's 186 mm."""


def render_invoice_pdf(invoice: InvoiceDocument) -> bytes:
    """The invoice as a one-document PDF (more pages when its lines need them)."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(f"Invoice {invoice.invoice_id}")
    pdf.set_author("Tally")
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    _heading(pdf, invoice)
    _parties(pdf, invoice)
    _lines(pdf, invoice)
    _totals(pdf, invoice)
    return bytes(pdf.output())


def _heading(pdf: FPDF, invoice: InvoiceDocument) -> None:
    pdf.set_font(_FONT, "B", 18)
    _row(pdf, "Invoice", height=10)
    pdf.set_font(_FONT, "", 10)
    first, last = invoice.local_period()
    issued = invoice.local_issued_at()
    for label, value in (
        ("Invoice", invoice.invoice_id),
        ("Account", invoice.account_sid),
        ("Billing month", invoice.month),
        ("Period", f"{first.isoformat()} to {last.isoformat()} ({invoice.time_zone})"),
        ("Time zone", invoice.time_zone),
        ("Issued", f"{issued:%Y-%m-%d %H:%M} ({invoice.time_zone})"),
        ("Billing mode", invoice.billing_mode.replace("_", " ")),
        ("Status", invoice.status),
        ("Currency", invoice.currency),
    ):
        _labelled(pdf, label, value)


def _parties(pdf: FPDF, invoice: InvoiceDocument) -> None:
    if invoice.no_balance_due:
        return
    pdf.ln(2)
    if invoice.due_date is not None:
        _labelled(pdf, "Due date", invoice.due_date.isoformat())
    _labelled(pdf, "PO number", invoice.po_number or "none given")
    if invoice.recipients:
        _labelled(pdf, "Recipients", ", ".join(invoice.recipients))
    address = invoice.billing_address
    if address is not None:
        _labelled(pdf, "Bill to", address.line1)
        city = " ".join(
            part for part in (address.city, address.region, address.postal_code) if part
        )
        for line in (address.line2, city, address.country):
            if line:
                _labelled(pdf, "", line)


def _lines(pdf: FPDF, invoice: InvoiceDocument) -> None:
    pdf.ln(4)
    pdf.set_font(_FONT, "B", 10)
    for width, title in zip(
        _COLUMNS, ("Description", "Quantity", "Unit", "Unit price", "Amount"), strict=True
    ):
        pdf.cell(
            width, _LINE, title, border="B", align="L" if title in {"Description", "Unit"} else "R"
        )
    pdf.ln(_LINE)
    pdf.set_font(_FONT, "", 10)
    for line in invoice.lines:
        cells = (
            line.description,
            _number(line.quantity),
            line.unit or "",
            _number(line.unit_price),
            _number(line.amount),
        )
        for index, (width, text) in enumerate(zip(_COLUMNS, cells, strict=True)):
            pdf.cell(width, _LINE, _printable(text), align="L" if index in {0, 2} else "R")
        pdf.ln(_LINE)
    if not invoice.lines:
        _row(pdf, "No charges this month.")


def _totals(pdf: FPDF, invoice: InvoiceDocument) -> None:
    pdf.ln(2)
    label_width = sum(_COLUMNS[:-1])
    for label, amount, bold in (
        ("Subtotal", invoice.subtotal, False),
        ("Total", invoice.total, True),
        ("Prepaid applied", invoice.prepaid_applied, False),
        ("Amount due", invoice.amount_due, True),
    ):
        pdf.set_font(_FONT, "B" if bold else "", 10)
        pdf.cell(label_width, _LINE, f"{label} ({invoice.currency})", align="R")
        pdf.cell(
            _COLUMNS[-1], _LINE, _number(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(4)
    pdf.set_font(_FONT, "B", 14)
    if invoice.no_balance_due:
        _row(pdf, NO_BALANCE_DUE, height=8)
        pdf.set_font(_FONT, "", 10)
        _row(pdf, "This account pays in advance: its prepaid balance paid these charges.")
    elif invoice.due_date is not None:
        _row(
            pdf,
            f"Please pay {_number(invoice.amount_due)} {invoice.currency}"
            f" by {invoice.due_date.isoformat()}",
            height=8,
        )


def _labelled(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(_FONT, "B", 10)
    pdf.cell(36, _LINE, f"{label}:" if label else "")
    pdf.set_font(_FONT, "", 10)
    pdf.cell(0, _LINE, _printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _row(pdf: FPDF, text: str, *, height: float = _LINE) -> None:
    pdf.cell(0, height, _printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _number(value: Decimal | None) -> str:
    # Exactly the JSON's decimal string ("12.50" stays "12.50"): the PDF carries the same numbers.
    return "" if value is None else format(value, "f")


_TYPOGRAPHY = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
    }
)


def _printable(text: str) -> str:
    # The PDF core fonts cover Latin-1 only; anything else would make fpdf2 refuse the page.
    return text.translate(_TYPOGRAPHY).encode("latin-1", "replace").decode("latin-1")
