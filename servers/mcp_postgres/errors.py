"""Errors the postgres tools report to the caller as they are."""


class QueryRejected(Exception):
    """The request cannot be served as asked; the message names the argument or the rule."""


class QueryInterrupted(Exception):
    """Another session or an administrator cancelled or terminated the query; the caller did
    nothing wrong and the database is up, so neither QueryRejected nor DatabaseUnavailable."""
