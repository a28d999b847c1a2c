"""Persistence: SQLite by default, PostgreSQL for several engine nodes."""
from flowengine.store.accesskeys import AccessKey, AccessKeyRepository, IssuedAccessKey
from flowengine.store.activeflows import Activeflow, ActiveflowRepository
from flowengine.store.aicalls import AIcall, AIcallRepository
from flowengine.store.aimessages import AIMessage, AIMessageRepository, ToolCall, ToolFunction
from flowengine.store.ais import AI, AIRepository, VadConfig
from flowengine.store.calls import Call, CallRepository
from flowengine.store.campaigncalls import Campaigncall, CampaigncallRepository
from flowengine.store.campaigns import Campaign, CampaignRepository
from flowengine.store.crypto import generate_secret_key
from flowengine.store.customers import Customer, CustomerRepository
from flowengine.store.database import DEFAULT_URL
from flowengine.store.errors import (
    AlreadyExistsError,
    EncryptionKeyError,
    EncryptionKeyMismatchError,
    EncryptionKeyMissingError,
    InvalidChangeError,
    InvalidEncryptionKeyError,
    InvalidQueryError,
    InvalidStoreUrlError,
    MigrationError,
    NotFoundError,
    PreconditionFailedError,
    SchemaTooNewError,
    SecretDecryptError,
    StaleRevisionError,
    StoreError,
    StoreUnavailableError,
)
from flowengine.store.flows import Flow, FlowRepository
from flowengine.store.numbers import Number, NumberRepository
from flowengine.store.outbox import Backlog, OutboxEntry, OutboxRepository, OutboxRow
from flowengine.store.outdials import Outdial, OutdialRepository, OutdialTarget, OutdialTargetRepository
from flowengine.store.outplans import Outplan, OutplanRepository
from flowengine.store.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from flowengine.store.records import NIL_ID, Address, CustomerRecord, Record, new_id
from flowengine.store.store import Store, open_store
from flowengine.store.summaries import Summary, SummaryRepository
from flowengine.store.teams import Team, TeamMember, TeamRepository, TeamTransition
from flowengine.store.timestamps import NOT_YET, format_timestamp, parse_timestamp

__all__ = [
    "AI",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_URL",
    "MAX_PAGE_SIZE",
    "NIL_ID",
    "NOT_YET",
    "AIMessage",
    "AIMessageRepository",
    "AIRepository",
    "AIcall",
    "AIcallRepository",
    "AccessKey",
    "AccessKeyRepository",
    "Activeflow",
    "ActiveflowRepository",
    "Address",
    "AlreadyExistsError",
    "Backlog",
    "Call",
    "CallRepository",
    "Campaign",
    "CampaignRepository",
    "Campaigncall",
    "CampaigncallRepository",
    "Customer",
    "CustomerRecord",
    "CustomerRepository",
    "EncryptionKeyError",
    "EncryptionKeyMismatchError",
    "EncryptionKeyMissingError",
    "Flow",
    "FlowRepository",
    "InvalidChangeError",
    "InvalidEncryptionKeyError",
    "InvalidQueryError",
    "InvalidStoreUrlError",
    "IssuedAccessKey",
    "MigrationError",
    "NotFoundError",
    "Number",
    "NumberRepository",
    "OutboxEntry",
    "OutboxRepository",
    "OutboxRow",
    "Outdial",
    "OutdialRepository",
    "OutdialTarget",
    "OutdialTargetRepository",
    "Outplan",
    "OutplanRepository",
    "Page",
    "PreconditionFailedError",
    "Record",
    "SchemaTooNewError",
    "SecretDecryptError",
    "StaleRevisionError",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "Summary",
    "SummaryRepository",
    "Team",
    "TeamMember",
    "TeamRepository",
    "TeamTransition",
    "ToolCall",
    "ToolFunction",
    "VadConfig",
    "format_timestamp",
    "generate_secret_key",
    "new_id",
    "open_store",
    "parse_timestamp",
]
