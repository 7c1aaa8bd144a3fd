"""What would change between two plans of a stack (`plan --json` documents): resources, properties, secrets.

Near 480 lines on purpose: matching resources (by URN, alias or name), comparing their properties and options, and
telling secret values apart by fingerprint are one model; the renderers live in review.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.plans.plan_format import SECRET_TEXT, UNKNOWN_TEXT
from policy.collisions import collisions
from policy.lifecycle import Order, forces_replacement, holds_data, kept_when_left_out, replacement_order
from policy.type_tokens import STACK

OPTIONS = ("protect", "retainOnDelete", "deleteBeforeReplace", "provider")

Op = Literal["create", "delete", "update", "replace", "move", "same"]
Step = Mapping[str, Any]


class Missing:
    """The absence of a property on one side of a change."""

    def __repr__(self) -> str:
        return "(none)"


MISSING = Missing()


@dataclass(frozen=True)
class PropertyChange:
    """One input (or option, or output) that differs; values are as `plan --json` shows them."""

    path: str
    """Property path, e.g. `gitRepository.repo` or `targets[1]`."""
    old: Any
    """The old value (MISSING if added); `[secret]` is all a secret ever shows."""
    new: Any
    """The new value (MISSING if removed)."""
    secret: bool = False
    """A secret on either side: neither value is shown, only that it changed."""
    replaces: bool = False
    """The provider replaces the resource when this property changes."""

    @property
    def kind(self) -> str:
        """add, remove or update."""
        if self.old is MISSING:
            return "add"
        if self.new is MISSING:
            return "remove"
        return "update"


@dataclass
class ResourceChange:
    """What happens to one resource."""

    op: Op
    urn: str
    """The URN after the change (before it, for a delete)."""
    type: str
    name: str
    custom: bool = True
    old_urn: str = ""
    """The URN before the change, when it differs (a move)."""
    properties: list[PropertyChange] = field(default_factory=list)
    options: list[PropertyChange] = field(default_factory=list)
    """Resource options that differ: protect, retainOnDelete, deleteBeforeReplace, provider."""
    replace_reasons: list[str] = field(default_factory=list)
    """Why the resource is replaced: the properties that force it, or a replaced resource it takes an id from."""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    """The inputs of a created resource."""
    holds_data: bool = False
    """Protected, retained on delete, or of a type that holds data or identity."""
    protected: bool = False
    """Protected before the change: Pulumi refuses to delete or replace it until `protect` is lifted."""
    retained: bool = False
    """Retained on delete before the change: a replacement or deletion leaves the old one in the cloud."""
    delete_before_replace: bool = False
    order: Order | None = None
    """For a replacement: delete-first or create-first, why, and what the gap between the two means."""
    collisions: list[str] = field(default_factory=list)
    """natural-key-collision violations (policy/collisions.py): a resource this `up` deletes holds its key."""

    @property
    def loud(self) -> bool:
        """A replacement or deletion of something that holds data: the reviewer must look."""
        return self.holds_data and (self.op in {"replace", "delete"} or bool(self.replace_reasons))

    @property
    def moved(self) -> bool:
        """Renamed or re-parented while keeping its identity (an alias matched the old URN)."""
        return bool(self.old_urn) and self.old_urn != self.urn

    @property
    def action(self) -> str:
        """The verb a reviewer reads: create, delete, update, replace, move, move+update, move+replace."""
        if self.moved and self.op in {"update", "replace"}:
            return f"move+{self.op}"
        return self.op


@dataclass
class StackDiff:
    """Everything that differs between two plans of one stack."""

    stack: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    config: list[PropertyChange] = field(default_factory=list)
    """Encrypted config values set, re-set or removed in the stack file (by path; never a value)."""
    uncompared_secrets: int = 0
    """Secret values that could not be compared (a plan without fingerprints): assumed unchanged."""
    error: str = ""
    """Why this stack could not be diffed (a plan failed); empty when it was."""

    @property
    def changed(self) -> bool:
        """Whether applying the new plan would change anything."""
        return bool(self.resources or self.outputs or self.config)

    def counts(self) -> dict[str, int]:
        """Resources per action (create, update, replace, delete, move), custom and component alike."""
        counts = {"create": 0, "update": 0, "replace": 0, "delete": 0, "move": 0}
        for change in self.resources:
            counts["move" if change.moved else change.op] += 1
        return counts


def diff_plans(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, stack: str = "") -> StackDiff:
    """The changes that turn the old plan of a stack into the new one; None stands for a stack without a plan."""
    stack = stack or str((new or old or {}).get("stack", ""))
    old_steps = _steps(old)
    new_steps = _steps(new)
    result = StackDiff(stack)
    counter = _Counter()

    matched, created, deleted = _match(old_steps, new_steps)
    changes: dict[str, ResourceChange] = {}
    for new_urn, old_urn in matched:
        change = _resource_change(old_steps[old_urn], new_steps[new_urn], counter, replacements=True)
        if change is not None:
            changes[new_urn] = change
    _cascade(changes, new_steps, old_steps, dict(matched))
    for urn in deleted:
        state = old_steps[urn]
        result.resources.append(_created_or_deleted("delete", state))
    for urn in new_steps:
        if urn in changes:
            result.resources.append(changes[urn])
        elif urn in created:
            result.resources.append(_created_or_deleted("create", new_steps[urn]))
    by_urn = {change.urn: change for change in result.resources if change.op != "delete"}
    for collision in collisions([old_steps[urn] for urn in deleted], [new_steps[urn] for urn in by_urn]):
        by_urn[collision.urn].collisions.append(collision.message)

    result.outputs = diff_values(_outputs(old), _outputs(new), counter=counter)
    result.config = _config_changes(old, new)
    result.uncompared_secrets = counter.uncompared
    return result


def diff_by_name(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[ResourceChange], int]:
    """Resources of two different stacks matched by type and logical name (their URNs differ by stack).

    Returns the differences (create = only in `new`, delete = only in `old`, update = inputs differ) and the
    number of resources found in both.
    """
    old_by = {_type_and_name(state): state for state in _steps(old).values()}
    new_by = {_type_and_name(state): state for state in _steps(new).values()}
    counter = _Counter()
    changes: list[ResourceChange] = []
    for key, state in old_by.items():
        if key not in new_by:
            changes.append(_created_or_deleted("delete", state))
    for key, state in new_by.items():
        if key not in old_by:
            changes.append(_created_or_deleted("create", state))
            continue
        change = _resource_change(old_by[key], state, counter, replacements=False)
        if change is not None:
            changes.append(change)
    return changes, len(set(old_by) & set(new_by))


def diff_values(
    old: Any,
    new: Any,
    path: str = "",
    *,
    counter: _Counter | None = None,
    old_prints: Mapping[str, str] | None = None,
    new_prints: Mapping[str, str] | None = None,
) -> list[PropertyChange]:
    """Leaf-level differences between two JSON values, secrets compared by fingerprint and never shown."""
    walk = _Walk(counter or _Counter(), old_prints or {}, new_prints or {})
    walk.diff(old, new, path)
    return walk.out


@dataclass
class _Counter:
    uncompared: int = 0


@dataclass
class _Walk:
    """One comparison of two values: the secrets' fingerprints on each side, and what was found."""

    counter: _Counter
    old_prints: Mapping[str, str]
    new_prints: Mapping[str, str]
    out: list[PropertyChange] = field(default_factory=list)

    def diff(self, old: Any, new: Any, path: str) -> None:
        if SECRET_TEXT in {_text(old), _text(new)}:
            self.secret(old, new, path)
        elif isinstance(old, Mapping) and isinstance(new, Mapping):
            for key in [*old, *(k for k in new if k not in old)]:
                sub = f"{path}.{key}" if path else str(key)
                self.diff(old.get(key, MISSING), new.get(key, MISSING), sub)
        elif isinstance(old, list) and isinstance(new, list):
            for index in range(max(len(old), len(new))):
                before = old[index] if index < len(old) else MISSING
                after = new[index] if index < len(new) else MISSING
                self.diff(before, after, f"{path}[{index}]")
        elif old is MISSING and new is MISSING:
            return
        elif type(old) is not type(new) or old != new:
            if isinstance(old, (int, float)) and isinstance(new, (int, float)) and old == new:
                return  # 308 and 308.0 are one number on the wire
            self.out.append(PropertyChange(path, old, new))

    def secret(self, old: Any, new: Any, path: str) -> None:
        if old == SECRET_TEXT and new == SECRET_TEXT:
            before, after = self.old_prints.get(path), self.new_prints.get(path)
            if before is None or after is None:
                self.counter.uncompared += 1
            elif before != after:
                self.out.append(PropertyChange(path, SECRET_TEXT, SECRET_TEXT, secret=True))
            return
        # Secret on one side only: the plain side's value may be the secret's value; show neither.
        before_shown = MISSING if old is MISSING else SECRET_TEXT
        after_shown = MISSING if new is MISSING else SECRET_TEXT
        self.out.append(PropertyChange(path, before_shown, after_shown, secret=True))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _steps(document: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """newState of each step, by URN."""
    if not document:
        return {}
    return {step["urn"]: step["newState"] for step in document.get("steps", [])}


def _outputs(document: Mapping[str, Any] | None) -> Any:
    return (document or {}).get("outputs", {})


def _name(state: Step) -> str:
    return str(state["urn"]).rsplit("::", 1)[-1]


def _type_and_name(state: Step) -> str:
    if state["type"] == STACK:
        return str(state["type"])  # named for its stack: the one root of each
    return f"{state['type']}::{_name(state)}"


def _make_urn(stack_and_project: str, parent_urn: str, type_: str, name: str) -> str:
    """A URN the way the engine (and the mock monitor) makes it: the parent's type chain, then the type."""
    if parent_urn:
        type_ = parent_urn.split("::")[2].rsplit("$", maxsplit=1)[-1] + "$" + type_
    return f"{stack_and_project}::{type_}::{name}"


def _alias_spec(text: str) -> dict[str, str]:
    """An alias as `plan --json` records it: a URN, or `name=..,type=..,parent=..,noParent`."""
    if text.startswith("urn:pulumi:"):
        return {"urn": text}
    spec: dict[str, str] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        spec[key] = value or "true"
    return spec


def _former_urns(urn: str, steps: Mapping[str, Step], memo: dict[str, set[str]]) -> set[str]:
    """Every URN the resource may have had before, from its aliases and those its parent inherits to it."""
    if urn in memo:
        return memo[urn]
    memo[urn] = set()
    state = steps[urn]
    head = "::".join(urn.split("::")[:2])
    parent = str(state.get("parent", ""))
    type_, name = str(state["type"]), _name(state)
    parents = {parent} | (_former_urns(parent, steps, memo) if parent in steps else set())
    found: set[str] = set()
    for former_parent in parents - {parent}:
        found.add(_make_urn(head, former_parent, type_, name))
    for text in state.get("aliases", []):
        spec = _alias_spec(str(text))
        if "urn" in spec:
            found.add(spec["urn"])
            continue
        alias_parents = {""} if "noParent" in spec else ({spec["parent"]} if "parent" in spec else parents)
        for alias_parent in alias_parents:
            found.add(_make_urn(head, alias_parent, spec.get("type", type_), spec.get("name", name)))
    found.discard(urn)
    memo[urn] = found
    return found


def _match(
    old_steps: Mapping[str, Step], new_steps: Mapping[str, Step]
) -> tuple[list[tuple[str, str]], set[str], list[str]]:
    """(new URN, old URN) pairs of the same resource, URNs created, URNs deleted (in the old plan's order)."""
    matched = [(urn, urn) for urn in new_steps if urn in old_steps]
    taken = {urn for urn, _ in matched}
    memo: dict[str, set[str]] = {}
    created: set[str] = set()
    for urn in new_steps:
        if urn in old_steps:
            continue
        former = [f for f in _former_urns(urn, new_steps, memo) if f in old_steps and f not in new_steps]
        former = [f for f in former if f not in taken]
        if former:
            matched.append((urn, former[0]))
            taken.add(former[0])
        else:
            created.add(urn)
    deleted = [urn for urn in old_steps if urn not in taken]
    return matched, created, deleted


def _resource_change(old: Step, new: Step, counter: _Counter, replacements: bool) -> ResourceChange | None:
    """The change of one resource present on both sides, or None if nothing differs."""
    type_ = str(new["type"])
    ignored = [str(path) for path in new.get("ignoreChanges", [])]
    replace_on = [str(path) for path in new.get("replaceOnChanges", [])]
    properties = [
        PropertyChange(
            change.path,
            change.old,
            change.new,
            change.secret,
            replacements and forces_replacement(type_, change.path, replace_on),
        )
        for change in diff_values(
            old.get("inputs", {}),
            new.get("inputs", {}),
            counter=counter,
            old_prints=old.get("secretFingerprints", {}),
            new_prints=new.get("secretFingerprints", {}),
        )
        if not any(change.path == rule or change.path.startswith((f"{rule}.", f"{rule}[")) for rule in ignored)
        and not (change.new is MISSING and kept_when_left_out(type_, change.path))
    ]
    options = [
        PropertyChange(option, old.get(option, MISSING), new.get(option, MISSING))
        for option in OPTIONS
        if old.get(option, MISSING) != new.get(option, MISSING)
        and (replacements or option != "provider")  # across stacks, provider URNs differ by the stack's name
    ]
    moved = old["urn"] != new["urn"]
    if not (properties or options or moved):
        return None
    reasons = [change.path for change in properties if change.replaces]
    op: Op = "replace" if reasons else ("update" if properties or options else "move")
    return ResourceChange(
        op=op,
        urn=str(new["urn"]),
        type=type_,
        name=_name(new),
        custom=bool(new.get("custom", True)),
        old_urn=str(old["urn"]) if moved else "",
        properties=properties,
        options=options,
        replace_reasons=reasons,
        holds_data=holds_data(type_, str(old["urn"]), bool(old.get("protect")), bool(old.get("retainOnDelete"))),
        protected=bool(old.get("protect")),
        retained=bool(old.get("retainOnDelete")),
        delete_before_replace=bool(new.get("deleteBeforeReplace")),
        order=_order(new) if reasons else None,
    )


def _order(state: Step) -> Order:
    """The order the replacement of this (new) state runs in, from the lifecycle record and its options."""
    return replacement_order(str(state["type"]), state.get("inputs", {}), bool(state.get("deleteBeforeReplace")))


def _created_or_deleted(op: Literal["create", "delete"], state: Step) -> ResourceChange:
    type_ = str(state["type"])
    return ResourceChange(
        op=op,
        urn=str(state["urn"]),
        type=type_,
        name=_name(state),
        custom=bool(state.get("custom", True)),
        inputs=state.get("inputs", {}) if op == "create" else {},
        holds_data=holds_data(type_, str(state["urn"]), bool(state.get("protect")), bool(state.get("retainOnDelete"))),
        protected=bool(state.get("protect")) and op == "delete",
        retained=bool(state.get("retainOnDelete")) and op == "delete",
    )


def _cascade(
    changes: dict[str, ResourceChange],
    new_steps: Mapping[str, Step],
    old_steps: Mapping[str, Step],
    old_urn_of: Mapping[str, str],
) -> None:
    """A replaced resource gets a new id: whatever takes an input from it is updated, or replaced if that input
    forces replacement (a replaced Vercel project replaces every env var and domain of it), transitively."""
    replaced = {urn for urn, change in changes.items() if change.op == "replace"}
    frontier = set(replaced)
    while frontier:
        next_frontier: set[str] = set()
        for urn, state in new_steps.items():
            if urn not in old_urn_of:
                continue  # created: all of its inputs are new anyway
            for prop, deps in dict(state.get("propertyDependencies", {})).items():
                sources = [dep for dep in deps if dep in frontier]
                if not sources:
                    continue
                change = changes.get(urn)
                if change is None:
                    change = _resource_change(old_steps[old_urn_of[urn]], state, _Counter(), replacements=True)
                    change = change or ResourceChange(
                        op="update",
                        urn=urn,
                        type=str(state["type"]),
                        name=_name(state),
                        holds_data=holds_data(
                            str(state["type"]), urn, bool(state.get("protect")), bool(state.get("retainOnDelete"))
                        ),
                        protected=bool(state.get("protect")),
                        retained=bool(state.get("retainOnDelete")),
                    )
                    changes[urn] = change
                source_names = ", ".join(_name(new_steps[dep]) for dep in sources)
                if not any(p.path == prop for p in change.properties):
                    forced = forces_replacement(change.type, prop, state.get("replaceOnChanges", []))
                    change.properties.append(PropertyChange(prop, UNKNOWN_TEXT, UNKNOWN_TEXT, replaces=forced))
                if forces_replacement(change.type, prop, state.get("replaceOnChanges", [])):
                    change.replace_reasons.append(f"{prop} (from {source_names}, replaced)")
                    if change.op != "replace":
                        change.op = "replace"
                        change.order = _order(state)
                        next_frontier.add(urn)
                elif change.op == "move":
                    change.op = "update"
        frontier = next_frontier - replaced
        replaced |= frontier


def _config_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[PropertyChange]:
    """Encrypted config values added, removed or re-encrypted, by path (digests of the ciphertexts)."""
    before = ((old or {}).get("config") or {}).get("secretFingerprints")
    after = ((new or {}).get("config") or {}).get("secretFingerprints")
    if before is None or after is None:
        return []
    changes = []
    for path in _ordered(before, after):
        if before.get(path) != after.get(path):
            changes.append(
                PropertyChange(
                    path,
                    SECRET_TEXT if path in before else MISSING,
                    SECRET_TEXT if path in after else MISSING,
                    secret=True,
                )
            )
    return changes


def _ordered(*keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(key for group in keys for key in group))


def count_changes(diffs: Iterable[StackDiff], predicate: Callable[[ResourceChange], bool]) -> int:
    """How many resource changes across stacks satisfy the predicate (e.g. loud ones)."""
    return sum(1 for diff in diffs for change in diff.resources if predicate(change))
