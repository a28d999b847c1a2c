"""Path ids: anything that is not a UUID names no resource (404, never a database error)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request

from flowengine.api.errors import ApiError


def resource_id(request: Request, id: Annotated[str, Path(description="the resource's id (a UUID)")]) -> str:
    try:
        return str(uuid.UUID(id))
    except ValueError:
        resource = request.url.path.split("/")[2].rstrip("s") if request.url.path.count("/") >= 2 else "resource"
        raise ApiError("NOT_FOUND", f"{resource} {id} not found", reason=f"{resource.upper()}_NOT_FOUND") from None


ResourceId = Annotated[str, Depends(resource_id)]
