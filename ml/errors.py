"""The one base class for problems a user can fix: the CLI prints them without a traceback."""


class UserError(Exception):
    """Bad params, bad data, a failed verification: a message is enough, no traceback."""
