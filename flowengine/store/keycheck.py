"""The key check: proves at start that the configured secret key is the database's key.

The first node that opens a database with a key stores a token encrypted with it; every later
open decrypts that token, so a wrong or missing-from-rotation key fails at start with a clear
message instead of at the first AI call."""
from __future__ import annotations

from sqlalchemy import Column, Integer, Table, Text, exc, insert, select, update

from flowengine.store.crypto import SecretBox
from flowengine.store.database import Database
from flowengine.store.errors import EncryptionKeyMismatchError, SecretDecryptError
from flowengine.store.schema import metadata
from flowengine.store.timestamps import Clock, UtcDateTime

PLAINTEXT = "flowengine key check v1"

keycheck = Table(
    "flowengine_keycheck",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", Text, nullable=False),
    Column("tm_create", UtcDateTime, nullable=False),
)


async def verify_key(db: Database, secrets: SecretBox, clock: Clock) -> None:
    """Raises EncryptionKeyMismatchError if the keys cannot read this database's key check."""
    if not secrets.configured:
        return
    for _ in range(2):  # a second round if another node stored the check at the same moment
        async with db.read() as conn:
            token = await conn.scalar(select(keycheck.c.token).where(keycheck.c.id == 1))
        if token is not None:
            break
        try:
            async with db.write() as conn:
                await conn.execute(
                    insert(keycheck).values(
                        id=1, token=secrets.encrypt(PLAINTEXT, purpose="key check"), tm_create=clock()
                    )
                )
            return
        except exc.IntegrityError:
            continue
    assert token is not None
    try:
        plain = secrets.decrypt(token, purpose="the key check")
    except SecretDecryptError:
        raise EncryptionKeyMismatchError(
            "store.secret_key is not the key this database's secrets were encrypted with; configure the "
            "original key (to change keys, list the new key first and the old one after it)"
        ) from None
    if plain.get_secret_value() != PLAINTEXT:
        raise EncryptionKeyMismatchError("the database's key check holds an unexpected value")
    if secrets.needs_rotation(token):
        async with db.write() as conn:
            await conn.execute(
                update(keycheck).where(keycheck.c.id == 1).values(token=secrets.rotate(token, purpose="key check"))
            )
