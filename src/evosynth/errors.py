"""The errors evosynth reports to users as one line (no stack trace)."""


class EvosynthError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ParamsError(EvosynthError, ValueError):
    """params.yaml is malformed; the message names the key and what is allowed."""


class DataError(EvosynthError):
    """A dataset's files are missing or not in the expected format."""


class ArtifactError(EvosynthError):
    """An artifact is missing, truncated, corrupted or of the wrong kind."""


class DivergenceError(EvosynthError):
    """The training loss became NaN or infinite."""


class CodeError(EvosynthError):
    """The code a step would run is not the code of the checkout it runs in."""
