"""The failure policy of the :class:`~kerasnac.ParetoOracle`: stop after too many failed trials
in a row, with a message that names the most common cause and the fix.

A failing trial never stops a search by itself (keras-tuner records it as FAILED and the search
goes on); only a run of ``max_consecutive`` failures does, since then every further trial would
most likely fail the same way. The completed trials are kept, so the same search resumes once the
cause is fixed.
"""

from __future__ import annotations

import collections

from kerasnac._keras import kt
from kerasnac.errors import ConsecutiveFailuresError, failure_reason  # noqa: F401  (the error is re-exported)

TrialStatus = kt.engine.trial.TrialStatus


def last_line(message) -> str:
    """The last non-empty line of a failure message (where a traceback names its error), cut to 300."""
    return failure_reason(message)


class ConsecutiveFailures:
    """Stop after ``max_consecutive`` FAILED trials in a row (in the order they ended).

    Args:
        max_consecutive: the limit (``0``/``None``: never stop).
    """

    def __init__(self, max_consecutive: int | None = 10):
        self.max_consecutive = max_consecutive

    def stop_message(self, ended_trials) -> str | None:
        """The reason to stop after ``ended_trials`` (keras-tuner trials in end order), or None."""
        if not self.max_consecutive:
            return None
        run = []
        for trial in ended_trials:
            run = run + [trial] if trial.status == TrialStatus.FAILED else []
        if len(run) < self.max_consecutive:
            return None
        cause, n = collections.Counter(last_line(t.message) or "unknown (no message)" for t in run).most_common(1)[0]
        return (f"kerasnac stopped the search: {len(run)} trials failed in a row (max_consecutive_failed_trials="
                f"{self.max_consecutive}). Most common cause ({n} of {len(run)}): {cause!r}. "
                "Fix that cause and run the same search again: completed trials are kept and the search resumes.")


__all__ = ["ConsecutiveFailuresError", "ConsecutiveFailures", "last_line"]
