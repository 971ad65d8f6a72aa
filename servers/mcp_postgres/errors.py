"""Errors the postgres tools report to the caller as they are."""


class QueryRejected(Exception):
    """The request cannot be served as asked; the message names the argument or the rule."""
