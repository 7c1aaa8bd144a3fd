"""natural-key-collision: one `up` never creates an object under a natural key that an object it deletes still holds.

Pulumi deletes the resources a program no longer declares after every create, update and replacement of the same
`up`. When a new URN takes the natural key of an old one (a renamed resource, the `dns.failover` switch, a Vercel
variable that moves to another resource), the create runs while the old object still holds the key, and the cloud
refuses it (Route 53, Vercel's ENV_CONFLICT, a GitHub POST) or the old one's late delete removes what the create
wrote (a GitHub PUT). `replace-delete-first` cannot see it: it is no replacement. A CrossGuard rule cannot either,
since a policy sees the new plan only; the offline diff, which has both plans, runs this rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from policy.lifecycle import lifecycle
from policy.type_tokens import ENV_VAR, RECORD

RULE: Final = "natural-key-collision"
DESCRIPTION: Final = (
    "One `up` never creates (or renames into) a natural key that a resource it deletes still holds: "
    "the deletes run last."
)
LEVEL: Final = "mandatory"

State = Mapping[str, Any]
"""A resource as `plan --json` records it: type, urn, inputs."""


def _dns(value: Any) -> Any:
    return value.rstrip(".").lower() if isinstance(value, str) else value


def _record_key(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """Route 53: a name and type hold either one simple record or routed records with distinct set identifiers
    (ChangeResourceRecordSets refuses a simple record beside a routed one of the same name and type)."""
    if (old.get("zoneId"), _dns(old.get("name")), old.get("type")) != (
        new.get("zoneId"),
        _dns(new.get("name")),
        new.get("type"),
    ):
        return None
    before, after = old.get("setIdentifier"), new.get("setIdentifier")
    if before and after and before != after:
        return None
    return f"Route 53 {new.get('type')} {_dns(new.get('name'))}"


def _env_var_key(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """Vercel: a key holds one variable per target (Create answers ENV_CONFLICT for a key and target taken)."""
    if (old.get("projectId"), old.get("key")) != (new.get("projectId"), new.get("key")):
        return None
    shared = sorted(
        {*(old.get("targets") or []), *(old.get("customEnvironmentIds") or [])}
        & {*(new.get("targets") or []), *(new.get("customEnvironmentIds") or [])}
    )
    return f"Vercel variable {new.get('key')} on {', '.join(shared)}" if shared else None


def _recorded_key(type_: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None:
    """Equal values of the row's natural key, for types whose Create meets an existing key (not `new-id`)."""
    row = lifecycle(type_)
    if row is None or not row.natural_key or row.create == "new-id":
        return None
    fields = row.natural_key

    def same(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
        values = [new.get(field) for field in fields]
        if any(value is None for value in values) or [old.get(field) for field in fields] != values:
            return None
        return ", ".join(f"{field}={value}" for field, value in zip(fields, values, strict=True))

    return same


KEYS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]] = {
    RECORD: _record_key,
    ENV_VAR: _env_var_key,
}
"""Types whose key is more than equal values of the row's natural key."""


@dataclass(frozen=True)
class Collision:
    """A resource the `up` creates (or changes) into a natural key that a resource it deletes holds until the end."""

    urn: str
    """The created or changed resource."""
    deleted_urn: str
    key: str
    """The natural key both hold, as a reviewer reads it."""
    outcome: str

    @property
    def message(self) -> str:
        """What goes wrong and the fix."""
        old = self.deleted_urn.rsplit("::", 1)[-1]
        new = self.urn.rsplit("::", 1)[-1]
        return (
            f"{new} takes {self.key}, which {old} holds until the `up` deletes it, after every other step "
            f"({self.outcome}); fix: two `up`s, the first deleting {old} alone (pulumi destroy --target "
            f"'{self.deleted_urn}'), or declare {new} with aliases=[pulumi.Alias(name=\"{old}\")] so that it is "
            "the same object, changed in place or replaced delete-first"
        )


def collisions(deleted: Iterable[State], changed: Iterable[State]) -> list[Collision]:
    """Every resource of `changed` (created, replaced, updated or moved by the `up`) whose natural key a resource
    of `deleted` holds."""
    gone = list(deleted)
    found = []
    for new in changed:
        type_ = str(new["type"])
        key_of = KEYS.get(type_) or _recorded_key(type_)
        if key_of is None:
            continue
        for old in gone:
            if old["type"] != type_:
                continue
            key = key_of(old.get("inputs", {}), new.get("inputs", {}))
            if key is not None:
                row = lifecycle(type_)
                outcome = (
                    "Create overwrites it and its late Delete then removes the value"
                    if row is not None and row.create == "upsert"
                    else "Create is refused and the `up` stops halfway"
                )
                found.append(Collision(str(new["urn"]), str(old["urn"]), key, outcome))
    return found
