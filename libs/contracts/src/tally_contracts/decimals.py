"""How decimals (money, quantities) are written on the wire and in APIs."""

from decimal import Decimal


def plain_decimal(value: Decimal) -> str:
    """`value` as a plain decimal string: no exponent, no trailing zeros ("100", "0.175")."""
    return format(value.normalize(), "f")
