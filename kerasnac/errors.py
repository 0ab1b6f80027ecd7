"""Errors raised for bad user input. Each message names the input and the fix."""


class KerasNACError(ValueError):
    """Base class of kerasnac's input errors."""


class SpaceError(KerasNACError):
    """A search space (Python or YAML) is malformed."""


class DataError(KerasNACError):
    """Training or validation data do not fit the space or contain invalid values."""


class ConfigError(KerasNACError):
    """An argument of KerasNAC (objectives, budgets, paths, ...) is invalid."""


def failure_reason(failure, limit: int = 300) -> str:
    """The one-line reason of a failure, as every table and message shows it: for an exception its
    ``Type: message`` line, for a keras-tuner traceback text its last meaningful line; at most
    ``limit`` characters, ``""`` for no failure."""
    if failure is None:
        return ""
    if isinstance(failure, BaseException):
        import traceback

        failure = "".join(traceback.format_exception_only(type(failure), failure))
    lines = [ln.strip() for ln in str(failure).strip().splitlines() if ln.strip()]
    return lines[-1][:limit] if lines else ""
