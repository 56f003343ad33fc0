"""Errors that decide what happens to a trigger message."""


class PermanentTriggerError(Exception):
    """The message can never start a run (malformed, unknown model, missing data): dead-letter it with
    this reason instead of retrying."""


class RegistrationError(Exception):
    """A candidate cannot be registered (missing artifact or metrics); nothing is registered for it."""
