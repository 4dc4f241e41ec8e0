"""Masking of personal data for display (the one rule set, shared with the SDL1 QR spec)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """`张三明` → `张*明`; two characters keep the first (`李四` → `李*`)."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_number(number: str) -> str:
    """Identity and licence numbers keep their first 4 and last 4 characters."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    """`13800000001` → `138****0001` (the form every Chinese app shows)."""
    if len(phone) != 11:
        return mask_number(phone)
    return phone[:3] + "****" + phone[-4:]
