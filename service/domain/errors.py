"""Domain exceptions, mapped to SMS replies and 4xx answers at the edges."""


class DomainError(Exception):
    """Base for errors a user can act on."""


class Conflict(DomainError):
    """State changed under us; the bus retries the command from the start."""


class Refused(Conflict):
    """The state does not allow it (a 409), and running again will not help."""


class AlreadyExists(Refused):
    """A name or number that must be unique is taken; running again will not help."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class InvalidInput(DomainError):
    """The request is malformed; the message says what to fix."""
