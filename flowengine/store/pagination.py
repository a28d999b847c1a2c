"""List pages the VoIPBIN way: newest first, `page_size` + `page_token` -> (items, next_page_token).

VoIPBIN lists with `WHERE tm_create < :token ORDER BY tm_create DESC LIMIT :size` and hands out
the last item's tm_create as the next token, so rows sharing the boundary timestamp are lost.
Here the order is (tm_create, id) newest first and the token is VoIPBIN's timestamp
(`2024-03-01 10:00:00.000000`), with `|<id of the last item>` appended only when the next row
has the same timestamp, so ties are neither lost nor repeated. A bare timestamp (VoIPBIN's
token, or one a client writes itself, ISO 8601 accepted) means "created strictly before".
The next token is None on the last page."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, Table, and_, or_

from flowengine.store.errors import InvalidQueryError
from flowengine.store.records import Record
from flowengine.store.timestamps import format_timestamp, parse_timestamp

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_SEPARATOR = "|"

R = TypeVar("R", bound=Record)


class Page(NamedTuple, Generic[R]):
    """One page of a list; unpacks as `items, next_page_token = page`."""

    items: list[R]
    next_page_token: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: strictly after (tm_create, id) in newest-first order."""

    tm_create: datetime
    id: str | None = None

    @classmethod
    def parse(cls, token: str) -> Cursor:
        stamp, _, last_id = token.partition(_SEPARATOR)
        try:
            when = parse_timestamp(stamp)
        except ValueError:
            raise InvalidQueryError(f"page_token {token!r} is not a token this API returned") from None
        return cls(when, last_id or None)

    def token(self) -> str:
        stamp = format_timestamp(self.tm_create)
        return stamp if self.id is None else f"{stamp}{_SEPARATOR}{self.id}"

    def condition(self, table: Table) -> ColumnElement[bool]:
        created = table.c.tm_create
        if self.id is None:
            return created < self.tm_create
        return or_(created < self.tm_create, and_(created == self.tm_create, table.c.id < self.id))


def check_page_size(page_size: int) -> int:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidQueryError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def paginate(stmt: Select[Any], table: Table, page_size: int, page_token: str | None) -> Select[Any]:
    """Adds the cursor, newest-first order and a limit one beyond the page (to see what follows)."""
    check_page_size(page_size)
    if page_token:
        stmt = stmt.where(Cursor.parse(page_token).condition(table))
    return stmt.order_by(table.c.tm_create.desc(), table.c.id.desc()).limit(page_size + 1)


def make_page(records: Sequence[R], page_size: int) -> Page[R]:
    """Cuts the extra row off and derives the next token from the last item kept."""
    items = list(records[:page_size])
    if len(records) <= page_size:
        return Page(items, None)
    last, following = items[-1], records[page_size]
    tie = following.tm_create == last.tm_create
    return Page(items, Cursor(last.tm_create, last.id if tie else None).token())
