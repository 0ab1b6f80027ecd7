"""Every error class kerasnac raises on purpose, all subclasses of :class:`KerasNACError`.

Each message names the input and the fix. The input errors are also ``ValueError`` (and the
others the built-in class they always were), so existing ``except ValueError`` code keeps working.
"""


class KerasNACError(Exception):
    """Base class of every error kerasnac raises on purpose (``except kn.KerasNACError`` catches them all)."""


class SpaceError(KerasNACError, ValueError):
    """A search space (Python or YAML) is malformed."""


class DataError(KerasNACError, ValueError):
    """Training or validation data do not fit the space or contain invalid values."""


class ConfigError(KerasNACError, ValueError):
    """An argument of KerasNAC (objectives, budgets, paths, ...) is invalid."""


class UnknownCostError(KerasNACError, KeyError, ValueError):
    """A cost name that is not registered. The message lists the registered names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotRelaxableError(SpaceError):
    """A choice of the space that the gradient search cannot relax (fix it with ``fixed={...}``)."""


class ConsecutiveFailuresError(KerasNACError, RuntimeError):
    """Too many trials failed in a row; the message names the most common cause."""


class HLS4MLExportError(KerasNACError, RuntimeError):
    """hls4ml could not convert, compile, simulate or synthesize a candidate (``stage`` says which)."""

    def __init__(self, message: str, stage: str):
        super().__init__(message)
        self.stage = stage


class UnsupportedLayerError(KerasNACError, ValueError):
    """A layer (or a setting of it) that the da4ml path cannot trace; the message names it."""


class SynthesisError(KerasNACError, RuntimeError):
    """yosys or verilator failed (or is missing); the message says which and why."""


class KerasVersionError(KerasNACError, ImportError):
    """TensorFlow was imported with Keras 3 before kerasnac could select Keras 2."""


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


__all__ = ["KerasNACError", "SpaceError", "DataError", "ConfigError", "UnknownCostError", "NotRelaxableError",
           "ConsecutiveFailuresError", "HLS4MLExportError", "UnsupportedLayerError", "SynthesisError",
           "KerasVersionError", "failure_reason"]
