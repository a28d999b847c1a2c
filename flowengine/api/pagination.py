"""List pages: `page_size`/`page_token` in, `{result, next_page_token}` out (VoIPBIN's CommonPagination)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from flowengine.store import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from flowengine.store.records import Record

T = TypeVar("T")
R = TypeVar("R", bound=Record)


class PageOut(BaseModel, Generic[T]):
    result: list[T]
    next_page_token: str = ""
    """Empty on the last page."""


class PageQuery(BaseModel):
    page_size: int
    page_token: str | None


def page_query(
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="results per page")] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str | None, Query(max_length=200, description="next_page_token of the previous page")]
    = None,
) -> PageQuery:
    return PageQuery(page_size=page_size, page_token=page_token or None)


Paging = Annotated[PageQuery, Depends(page_query)]


def page_out(page: Page[R], view: Callable[[R], Any]) -> dict[str, Any]:
    return {"result": [view(item) for item in page.items], "next_page_token": page.next_page_token or ""}
