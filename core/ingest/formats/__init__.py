"""Format adapters: recognise a file by its header and stage its rows for CopyLift tables.

Each adapter is a ``Format`` value: a name, a label for people, a ``detect``
function over the lower-cased header names of one file, and a ``stage``
function that fills ``stg_<table>`` tables from the loaded sources. The order of
``FORMATS`` matters: the first adapter that recognises a file wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.ingest.context import StageContext


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    detect: Callable[[set[str]], bool]
    stage: Callable[[StageContext], None]
    multi_file: bool = False


def _formats() -> tuple[Format, ...]:
    from core.ingest.formats import campaigns, native, olist, online_retail, reviews, shopify

    return (
        olist.FORMAT,
        shopify.ORDERS,
        shopify.CUSTOMERS,
        online_retail.FORMAT,
        campaigns.USER_LEVEL,
        campaigns.AGGREGATE,
        reviews.DATAFINITI,
        reviews.AMAZON,
        native.EVENTS,
        native.USERS,
        native.PRODUCTS,
    )


def all_formats() -> tuple[Format, ...]:
    return _formats()


def by_name(name: str) -> Format:
    from core.errors import ValidationError

    for fmt in _formats():
        if fmt.name == name:
            return fmt
    if name == "generic":
        from core.ingest.formats import generic

        return generic.FORMAT
    names = ", ".join([f.name for f in _formats()] + ["generic"])
    raise ValidationError(f"unknown format {name!r}; choose one of: {names}")


def detect(headers: set[str]) -> Format | None:
    for fmt in _formats():
        if fmt.detect(headers):
            return fmt
    return None


def has_any(headers: set[str], *names: str) -> bool:
    return any(n in headers for n in names)
