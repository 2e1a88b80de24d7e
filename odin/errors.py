"""Errors a user can act on. The entrypoint prints them without a traceback and exits non-zero."""


class OdinError(Exception):
    """Bad input or a missing resource: the message says which file/key is wrong and what to do."""


class NotImplementedTask(OdinError):
    """A task that exists in the command line but is not built yet."""
