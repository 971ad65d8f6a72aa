"""Administer test databases in the shared PostgreSQL with psql."""

from __future__ import annotations

import subprocess

SAMPLE_SCHEMA = """
CREATE TABLE customers (
    id      integer PRIMARY KEY,
    email   text NOT NULL UNIQUE,
    created date NOT NULL DEFAULT CURRENT_DATE
);
COMMENT ON TABLE customers IS 'People who order';
CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total       numeric(10, 2) NOT NULL CHECK (total >= 0),
    placed_at   timestamptz NOT NULL DEFAULT now(),
    details     jsonb
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE SEQUENCE order_numbers;
CREATE FUNCTION log_visit() RETURNS integer LANGUAGE sql
    AS 'INSERT INTO customers (id, email) VALUES (999, ''visit@example.com'') RETURNING id';
INSERT INTO customers (id, email, created) VALUES
    (1, 'ada@example.com', '2024-01-02'), (2, 'grace@example.com', '2024-02-03');
INSERT INTO orders (customer_id, total, details) VALUES
    (1, 12.50, '{"items": ["tea"]}'), (1, 250.00, '{"items": ["piano"]}'), (2, 99.99, NULL);
"""


def psql(url: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def with_database(url: str, database: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{database}"
