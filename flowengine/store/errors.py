"""Exceptions of the store: one class per failure a caller can act on."""
from __future__ import annotations

from collections.abc import Collection


class StoreError(Exception):
    """Base class of every store error."""


class InvalidStoreUrlError(StoreError):
    """`store.url` is malformed or names a database flowengine does not support."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached (server down, file not writable, wrong credentials)."""


class MigrationError(StoreError):
    """The schema cannot be brought to the version this flowengine needs."""


class SchemaTooNewError(MigrationError):
    """The database was migrated by a newer flowengine; this one must not write to it."""

    def __init__(self, found: int, head: int) -> None:
        self.found = found
        self.head = head
        super().__init__(
            f"the database schema is at version {found}, newer than this flowengine knows (head {head}); "
            "upgrade flowengine on this node (all nodes sharing one database must run the same version)"
        )


class EncryptionKeyError(StoreError):
    """Base class of the problems with the secret key that encrypts secrets at rest."""


class InvalidEncryptionKeyError(EncryptionKeyError):
    """A configured secret key is not a valid key (wrong length or encoding)."""


class EncryptionKeyMissingError(EncryptionKeyError):
    """A secret must be encrypted or decrypted but no secret key is configured."""


class EncryptionKeyMismatchError(EncryptionKeyError):
    """The configured secret key is not the one the database's secrets were encrypted with."""


class SecretDecryptError(EncryptionKeyError):
    """One stored secret does not decrypt with the configured key(s)."""


class NotFoundError(StoreError):
    """No such resource for this customer (or it is deleted). Also raised for another
    customer's resource: one customer cannot learn that another's exists."""

    def __init__(self, resource: str, id: str) -> None:
        self.resource = resource
        self.id = id
        super().__init__(f"{resource} {id} not found")


class AlreadyExistsError(StoreError):
    """A resource with this id already exists."""

    def __init__(self, resource: str, id: str) -> None:
        self.resource = resource
        self.id = id
        super().__init__(f"{resource} {id} already exists")


class StaleRevisionError(StoreError):
    """The resource changed since the caller read it (optimistic concurrency): re-read and retry."""

    def __init__(self, resource: str, id: str, expected: int, actual: int) -> None:
        self.resource = resource
        self.id = id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{resource} {id} was changed by someone else: expected revision {expected}, it is at {actual}"
        )


class PreconditionFailedError(StoreError):
    """A conditional update found a field with a value it was not allowed to start from."""

    def __init__(self, resource: str, id: str, field: str, actual: object, allowed: Collection[object]) -> None:
        self.resource = resource
        self.id = id
        self.field = field
        self.actual = actual
        self.allowed = allowed
        wanted = ", ".join(sorted(repr(v) for v in allowed))
        super().__init__(f"{resource} {id}: {field} is {actual!r}, expected one of {wanted}")


class InvalidChangeError(StoreError):
    """An update names a field that does not exist or cannot change, or gives it a bad value."""


class InvalidQueryError(StoreError):
    """A list request has a bad page size, page token or filter."""
