"""The one project-own stand-in for a value a preview does not know yet: the offline engine records it, the
policy's property reader hands it to the rules. No imports, so every layer can share it."""

from __future__ import annotations

from typing import Final

UNKNOWN_SHOWN: Final = "[unknown]"
"""How a reader is shown an unknown value."""


class Unknown:
    """A value not known until the resource it comes from exists, as in `pulumi preview`."""

    def __repr__(self) -> str:
        return UNKNOWN_SHOWN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown)

    def __hash__(self) -> int:
        return hash("unknown")


UNKNOWN: Final = Unknown()
