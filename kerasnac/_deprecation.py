"""Old argument names that still work for one release, with a DeprecationWarning."""

from __future__ import annotations

import warnings


def renamed(where: str, old: str, old_value, new: str, new_value):
    """``new_value``, or ``old_value`` (with a DeprecationWarning naming ``new``) when the caller of
    ``where`` used the old argument name ``old`` (its default is ``None``, meaning "not given")."""
    if old_value is None:
        return new_value
    warnings.warn(f"{where}({old}=...) is deprecated and will be removed in 0.3: use {new} instead.",
                  DeprecationWarning, stacklevel=3)
    return old_value
