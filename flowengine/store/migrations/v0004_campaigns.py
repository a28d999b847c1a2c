"""Migration 4: campaigns, outplans, outdials, outdial targets and campaigncalls (reference section 6)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SLOTS = range(5)


def _resource(md: MetaData, name: str, *columns: Any) -> Table:
    return Table(
        name, md,
        Column("id", String(36), primary_key=True),
        Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
        *columns,
        Index(f"ix_{name}_listing", "customer_id", "tm_delete", "tm_create", "id"),
    )


def _t(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False)


def _ix(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False, index=True)


def _i(name: str) -> Column[Any]:
    return Column(name, Integer, nullable=False)


def _j(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, JSON(none_as_null=True), nullable=nullable)


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    Table("customers", md, Column("id", String(36), primary_key=True))  # referenced only
    _resource(
        md, "campaigns",
        _t("type"), _t("execute"), _t("name"), _t("detail"), _t("status"), _i("service_level"), _t("end_handle"),
        _t("flow_id"), _j("actions"), _t("outplan_id"), _t("outdial_id"), _t("queue_id"), _t("next_campaign_id"),
        _i("max_concurrent_calls"), Column("calls_per_second", Float, nullable=False),
    )
    _resource(
        md, "outplans",
        _t("name"), _t("detail"), _j("source"), _i("dial_timeout"), _i("try_interval"),
        *(_i(f"max_try_count_{i}") for i in SLOTS), _j("call_window", nullable=True),
    )
    _resource(md, "outdials", _t("campaign_id"), _t("name"), _t("detail"), _t("data"))
    _resource(
        md, "outdialtargets",
        _ix("outdial_id"), _t("name"), _t("detail"), _t("data"), _t("status"),
        *(_j(f"destination_{i}", nullable=True) for i in SLOTS), *(_i(f"try_count_{i}") for i in SLOTS),
        _t("timezone"),
    )
    _resource(
        md, "campaigncalls",
        _ix("campaign_id"), _t("outplan_id"), _t("outdial_id"), _ix("outdial_target_id"), _t("queue_id"),
        _t("activeflow_id"), _t("flow_id"), _t("reference_type"), _t("reference_id"), _t("status"), _t("result"),
        _j("source"), _j("destination"), _i("destination_index"), _i("try_count"), _t("hangup_reason"),
        _t("amd_status"),
    )
    return md


TABLES = ("campaigns", "outplans", "outdials", "outdialtargets", "campaigncalls")


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables[name] for name in TABLES], checkfirst=False)


MIGRATION = Migration(4, "campaigns", upgrade)
