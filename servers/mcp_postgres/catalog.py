"""What the database holds: schemas, tables and the shape of one table, from pg_catalog."""

from typing import Any

import asyncpg
from pydantic import BaseModel

from mcp_postgres.errors import QueryRejected

SCHEMAS_SQL = """
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner
FROM pg_namespace n
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND has_schema_privilege(n.oid, 'USAGE')
ORDER BY n.nspname
"""

TABLES_SQL = """
SELECT c.relname AS name,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                      WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'f' THEN 'foreign table' END AS kind,
       GREATEST(c.reltuples, 0)::bigint AS estimated_rows,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
ORDER BY c.relname
"""

TABLE_OID_SQL = """
SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""

COLUMNS_SQL = """
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default,
       col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

CONSTRAINTS_SQL = """
SELECT con.conname AS name,
       -- Every contype gets a kind, a later PostgreSQL's own letter ('n' for NOT NULL in 18)
       -- included: a NULL kind failed the whole description.
       CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique'
                        WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check'
                        WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'constraint trigger'
                        WHEN 'n' THEN 'not null' ELSE con.contype::text END AS kind,
       ARRAY(SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       CASE WHEN con.contype = 'f' THEN con.confrelid::regclass::text END AS references_table,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
WHERE con.conrelid = $1
ORDER BY con.contype, con.conname
"""

INDEXES_SQL = """
SELECT ic.relname AS name, i.indisunique AS is_unique, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1
ORDER BY ic.relname
"""


class SchemaInfo(BaseModel):
    name: str
    owner: str


class TableInfo(BaseModel):
    name: str
    kind: str
    estimated_rows: int
    comment: str | None


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    default: str | None
    comment: str | None


class ConstraintInfo(BaseModel):
    name: str
    kind: str
    columns: list[str]
    references_table: str | None
    definition: str


class IndexInfo(BaseModel):
    name: str
    is_unique: bool
    definition: str


class TableDescription(BaseModel):
    schema_name: str
    table: str
    columns: list[ColumnInfo]
    primary_key: list[str]
    constraints: list[ConstraintInfo]
    indexes: list[IndexInfo]


class UnknownTable(QueryRejected):
    pass


def _check_name(argument: str, name: str) -> None:
    # PostgreSQL's text cannot hold NUL, so asyncpg's error would name neither the argument
    # nor the character; no schema or table can be named so anyway.
    if (nul := name.find("\x00")) >= 0:
        raise QueryRejected(
            f"{argument}: must not contain NUL (U+0000) at index {nul}; no PostgreSQL name does"
        )


def _rows(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record) for record in records]


async def list_schemas(conn: asyncpg.Connection) -> list[SchemaInfo]:
    return [SchemaInfo(**row) for row in _rows(await conn.fetch(SCHEMAS_SQL))]


async def list_tables(conn: asyncpg.Connection, schema: str) -> list[TableInfo]:
    _check_name("schema", schema)
    return [TableInfo(**row) for row in _rows(await conn.fetch(TABLES_SQL, schema))]


async def describe_table(conn: asyncpg.Connection, schema: str, table: str) -> TableDescription:
    _check_name("table", table)
    _check_name("schema", schema)
    oid = await conn.fetchval(TABLE_OID_SQL, schema, table)
    if oid is None:
        raise UnknownTable(f"table: no table or view named {table!r} in schema {schema!r}")
    constraints = [ConstraintInfo(**row) for row in _rows(await conn.fetch(CONSTRAINTS_SQL, oid))]
    primary_key = next((c.columns for c in constraints if c.kind == "primary key"), [])
    return TableDescription(
        schema_name=schema,
        table=table,
        columns=[ColumnInfo(**row) for row in _rows(await conn.fetch(COLUMNS_SQL, oid))],
        primary_key=primary_key,
        constraints=constraints,
        indexes=[IndexInfo(**row) for row in _rows(await conn.fetch(INDEXES_SQL, oid))],
    )
