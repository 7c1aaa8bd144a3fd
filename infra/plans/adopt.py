"""Adopting what already runs: the stack's resources that can already exist, the inventory that says which do, and
the bulk import file `pulumi import --file` takes.

The import ids are built from the lifecycle record's `import_id` column (policy/lifecycle.py: each type's
importer, cited); what only the accounts know (a Vercel project or variable id, a hosted zone id) comes from the
inventory, a YAML mapping of each candidate's label to its id (or `true` when the program's own inputs name it).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.engine.runtime import Plan, Registration
from policy.lifecycle import ImportId, lifecycle
from policy.type_tokens import HOSTED_ZONE, RECORD, VERCEL_PROJECT
from policy.unknowns import Unknown
from settings.stackfile import did_you_mean

STACK_PARTS = {"projectId": "list the Vercel project too", "zoneId": "list the Zone too", "accountId": "no account"}
"""What gives each `{$part}` of an import id, as the error for a missing one says."""


class InventoryError(Exception):
    """The inventory names something the stack does not declare, or an id of the wrong shape (exit 2)."""


@dataclass(frozen=True)
class Candidate:
    """A declared resource that may already exist in an account."""

    label: str
    """How the inventory names it: the type's name and the object's natural key."""
    registration: Registration
    import_id: ImportId

    @property
    def own_part(self) -> str:
        """The `{@part}` only this resource's own inventory entry can give ("" when `true` is enough)."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.import_id.template) if name]
        own = [name[1:] for name in names if name.startswith("@")]
        return own[0] if own else ""

    def import_id_for(self, value: Any, context: Mapping[str, str]) -> str:
        """The id `pulumi import` takes, from the inventory's value and the stack-wide parts."""
        parts: dict[str, str] = {}
        for _, name, _, _ in string.Formatter().parse(self.import_id.template):
            if name is None:
                continue
            if name.startswith("@"):
                parts[name] = str(value)
            elif name.startswith("$"):
                parts[name] = context.get(name[1:], "")
                if not parts[name]:
                    raise InventoryError(f"{self.label}: its id needs the {name[1:]} ({STACK_PARTS[name[1:]]})")
            else:
                parts[name] = _id_part(self.registration.inputs.get(name))
        text = self.import_id.template
        for name, part in parts.items():
            text = text.replace("{" + name + "}", part)
        if not re.fullmatch(self.import_id.pattern, text):
            raise InventoryError(
                f"{self.label}: {text!r} is not an id of this type (expected {self.import_id.pattern}; "
                f"{self.import_id.source})"
            )
        return text


def _id_part(value: Any) -> str:
    """An input as an importer's id names it: a URL by host and path (IAM names a provider so), GitHub's `:`
    escaped as `??` (terraform-provider-github util.go escapeIDPart)."""
    text = "" if value is None else str(value)
    return text.removeprefix("https://").replace(":", "??")


def _label(reg: Registration) -> str | None:
    """How the inventory names the resource; None when another resource's output names it (an ACM validation
    record's name): nothing made before the stack can be that object."""
    row = lifecycle(reg.type)
    fields = (row.natural_key if row else ()) or ("name",)
    shown = []
    for field in fields:
        value = reg.inputs.get(field)
        if value is None or (field.endswith("Id") and reg.property_dependencies.get(field)):
            continue  # an id another resource assigns: the same for every candidate, it names nothing
        if isinstance(value, Unknown):
            return None
        shown.append("+".join(map(str, value)) if isinstance(value, list) else str(value).removeprefix("https://"))
    return " ".join([reg.type.rsplit(":", 1)[-1], *shown])


def _secondary(reg: Registration) -> bool:
    """A failover secondary: what exists before the stack is a simple record, which only the primary of its name
    takes over (the `up` turns it into the primary in place); the secondary is created after it."""
    policies = reg.inputs.get("failoverRoutingPolicies")
    return (
        reg.type == RECORD
        and isinstance(policies, list)
        and any(isinstance(policy, dict) and policy.get("type") == "SECONDARY" for policy in policies)
    )


def candidates(plan: Plan) -> list[Candidate]:
    """Every declared resource whose type has an importer in the record, in the plan's order."""
    found = []
    for reg in plan.registrations:
        row = lifecycle(reg.type)
        adoptable = reg.custom and row is not None and row.import_id is not None and not _secondary(reg)
        label = _label(reg) if adoptable else None
        if row is not None and row.import_id is not None and label is not None:
            found.append(Candidate(label, reg, row.import_id))
    labels = [c.label for c in found]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"two resources share an adoption label: {twice}")  # a program bug, not bad input
    return found


def template(plan: Plan) -> str:
    """An inventory for the stack with nothing filled in: each candidate, and what its value must be."""
    lines = [
        f"# Inventory of what already exists for stack {plan.stack} (docs/adopting.md prints each id).",
        "# Fill in what exists (its id, or true) and leave null what does not: `up` creates it.",
    ]
    for candidate in candidates(plan):
        if candidate.import_id.write_only:
            lines.append(f"# {candidate.label}: {candidate.import_id.write_only}")
            continue
        want = f"its {candidate.own_part}" if candidate.own_part else "true"
        lines.append(f"# {want} (import id {candidate.import_id.template})")
        lines.append(f"{_yaml_key(candidate.label)}: null")
    return "\n".join(lines) + "\n"


def _yaml_key(label: str) -> str:
    return label if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ._/+@-]*", label) else '"' + label.replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Adoption:
    """The import file and what the adoption leaves to `up`."""

    document: dict[str, Any]
    """The bulk import file (`pulumi import --file`)."""
    adopted: list[Candidate]
    write_only: list[Candidate]
    """Objects whose value cannot be imported: what `up` does to them."""
    created: list[Candidate]
    """Candidates the inventory does not list: `up` creates them."""


def adoption(plan: Plan, inventory: Mapping[str, Any], account_id: str = "") -> Adoption:
    """The import file for the resources the inventory lists; InventoryError for an entry that is wrong."""
    by_label = {c.label: c for c in candidates(plan)}
    for label, value in inventory.items():
        if label not in by_label:
            hint = did_you_mean(label, list(by_label))
            raise InventoryError(f"{label!r} is no resource of stack {plan.stack} that can already exist{hint}")
        candidate = by_label[label]
        if candidate.import_id.write_only:
            raise InventoryError(f"{label}: cannot be imported; {candidate.import_id.write_only}")
        expected = bool if not candidate.own_part else str
        if not isinstance(value, expected) or value in ("", False):
            what = f"its {candidate.own_part} (a string; quote an id YAML would read as a number)"
            raise InventoryError(f"{label}: the value must be {what if candidate.own_part else 'true'}")
    projects = [label for label, c in by_label.items() if c.registration.type == VERCEL_PROJECT and label in inventory]
    context = {
        "accountId": account_id,
        "projectId": str(inventory[projects[0]]) if projects else "",
        "zoneId": _zone_id(plan, by_label, inventory),
    }
    adopted, ids = [], {}
    labels: dict[tuple[str, str], str] = {}  # the first label of each object: its type and import id
    for label, candidate in by_label.items():
        if label in inventory:
            ids[candidate.registration.urn] = candidate.import_id_for(inventory[label], context)
            twice = labels.setdefault((candidate.registration.type, ids[candidate.registration.urn]), label)
            if twice != label:
                raise InventoryError(f"{label}: the same object as {twice}; list it once")
            adopted.append(candidate)
    return Adoption(
        import_file(plan, ids),
        adopted,
        [c for c in by_label.values() if c.import_id.write_only],
        [c for c in by_label.values() if c.label not in inventory and not c.import_id.write_only],
    )


def _zone_id(plan: Plan, by_label: Mapping[str, Candidate], inventory: Mapping[str, Any]) -> str:
    """The adopted zone's id: its inventory entry, else the stack's vibelog:dns.zoneId (the zone's `import_`)."""
    listed = [
        str(inventory[label])
        for label, c in by_label.items()
        if c.registration.type == HOSTED_ZONE and label in inventory
    ]
    adopted = [reg.import_id for reg in plan.registrations if reg.type == HOSTED_ZONE and reg.import_id]
    return (listed or adopted or [""])[0]


def import_file(plan: Plan, ids: Mapping[str, str]) -> dict[str, Any]:
    """The document `pulumi import --file` reads: every adopted resource with its id, parent and provider by name,
    the components above them as `component` entries (created empty by the import), the providers in the name
    table by URN (they must exist in the stack: docs/adopting.md)."""
    by_urn = plan.by_urn()
    chosen = [reg for reg in plan.registrations if reg.urn in ids]
    components: dict[str, Registration] = {}
    for reg in chosen:
        parent = by_urn.get(reg.parent)
        while parent is not None and not parent.custom and parent.parent:
            components[parent.urn] = parent
            parent = by_urn.get(parent.parent)
    providers = {reg.provider for reg in chosen if reg.provider}
    name_table = {by_urn[urn].name: urn for urn in sorted(providers) if urn in by_urn}
    resources: list[dict[str, Any]] = []
    for reg in plan.registrations:
        if reg.urn in components:
            resources.append({"type": reg.type, "name": reg.name, "component": True, **_parent(reg, components)})
        elif reg.urn in ids:
            entry = {"type": reg.type, "name": reg.name, "id": ids[reg.urn], **_parent(reg, components)}
            if reg.provider:
                entry["provider"] = by_urn[reg.provider].name
            resources.append(entry)
    names = [entry["name"] for entry in resources] + list(name_table)
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"names an import file must hold once: {twice}")  # a program bug, not bad input
    return {"nameTable": name_table, "resources": resources}


def _parent(reg: Registration, components: Mapping[str, Registration]) -> dict[str, str]:
    parent = components.get(reg.parent)
    return {"parent": parent.name} if parent is not None else {}
