"""API access keys: stored as salted SHA-256 hashes, found again by the key a client presents.

A token is `fe_` + 43 URL-safe characters (256 random bits). Its first 11 characters are kept
in clear (`token_prefix`, shown in lists and used to find candidate rows); the rest is only
ever known to the client. A slow hash is not needed: the token is random, not a password."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

from pydantic import SecretStr
from sqlalchemy import Column, Table, Text, select

from flowengine.store.customers import customers
from flowengine.store.records import CustomerRecord, UtcTime
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import flag, listing_index, metadata, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET

TOKEN_PREFIX = "fe_"
PREFIX_LENGTH = 11

accesskeys = Table(
    "accesskeys",
    metadata,
    *resource_columns(),
    text("name"),
    text("detail"),
    Column("token_prefix", Text, nullable=False, index=True),
    text("token_hash"),
    text("token_salt"),
    flag("admin"),
    timestamp("tm_expire"),
    listing_index("accesskeys"),
)


class AccessKey(CustomerRecord):
    """VoIPBIN's access key (CustomerManagerAccesskey) without its token, which exists only in
    the `IssuedAccessKey` returned once by `create`. `admin` (a flowengine extension) lets the
    key manage customers and keys."""

    name: str = ""
    detail: str = ""
    token_prefix: str = ""
    admin: bool = False
    tm_expire: UtcTime = NOT_YET


class IssuedAccessKey(NamedTuple):
    key: AccessKey
    token: SecretStr


def _hash(salt: str, token: str) -> str:
    return hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()


class AccessKeyRepository(ScopedRepository[AccessKey]):
    resource = "accesskey"
    table = accesskeys
    record_type = AccessKey

    async def issue(
        self, customer_id: str, *, name: str = "", detail: str = "", admin: bool = False, tm_expire: UtcTime = NOT_YET
    ) -> IssuedAccessKey:
        """Creates a key and returns its token; the token cannot be read back later."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        record = AccessKey(
            customer_id=customer_id,
            name=name,
            detail=detail,
            admin=admin,
            tm_expire=tm_expire,
            token_prefix=token[:PREFIX_LENGTH],
        )
        key = await self._insert(record, {"token_hash": _hash(salt, token), "token_salt": salt})
        return IssuedAccessKey(key, SecretStr(token))

    async def create(self, record: AccessKey) -> AccessKey:
        raise TypeError("access keys are created with issue(), which makes their token")

    async def authenticate(self, token: str | SecretStr) -> AccessKey | None:
        """The live, unexpired key this token belongs to, or None. (Not customer-scoped: this
        is how a request finds its customer.)"""
        presented = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not presented.startswith(TOKEN_PREFIX) or len(presented) <= PREFIX_LENGTH:
            return None
        access = self._access
        stmt = (
            select(*access.columns, accesskeys.c.token_hash, accesskeys.c.token_salt)
            .join(customers, customers.c.id == accesskeys.c.customer_id)
            .where(
                accesskeys.c.token_prefix == presented[:PREFIX_LENGTH],
                access.live(),
                customers.c.tm_delete == NOT_YET,  # a deleted customer's keys stop working
            )
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        now = access.clock()
        for row in rows:
            if hmac.compare_digest(_hash(row.token_salt, presented), row.token_hash):
                key = AccessKey.model_validate({name: getattr(row, name) for name in access.fields})
                return key if key.tm_expire > now else None
        return None
