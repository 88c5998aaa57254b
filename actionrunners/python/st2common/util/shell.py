"""st2common.util.shell helpers actions use."""

import shlex

__all__ = ["quote_unix"]


def quote_unix(value):
    return shlex.quote(str(value))
