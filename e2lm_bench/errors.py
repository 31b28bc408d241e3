"""The one base class of errors caused by the user's input: the CLI prints these as one line."""


class UserError(ValueError):
    """Bad input (a file, a field, a name); the message says which and where."""
