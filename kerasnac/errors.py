"""Errors raised for bad user input. Each message names the input and the fix."""


class KerasNACError(ValueError):
    """Base class of kerasnac's input errors."""


class SpaceError(KerasNACError):
    """A search space (Python or YAML) is malformed."""


class DataError(KerasNACError):
    """Training or validation data do not fit the space or contain invalid values."""


class ConfigError(KerasNACError):
    """An argument of KerasNAC (objectives, budgets, paths, ...) is invalid."""
