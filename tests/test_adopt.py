"""Adopting the running VibeLog: the inventory, the import file `pulumi import --file` takes, the `adopt` phase in
which nothing adopted is created or re-tagged, and the zone that is never created unless the stack says so."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.diffs.changes import diff_plans
from infra.engine.runtime import Plan, Registration, plan_stack, run_program
from infra.plans.adopt import InventoryError, adoption, candidates
from infra.plans.render import plan_json
from policy.lifecycle import lifecycle
from policy.type_tokens import (
    BRANCH_PROTECTION,
    EDGE_CONFIG,
    EDGE_CONFIG_ITEM,
    EDGE_CONFIG_TOKEN,
    ENVIRONMENT_SECRET,
    HOSTED_ZONE,
    OIDC_PROVIDER,
    PROVIDER_PREFIX,
    RECORD,
)
from settings.stacks import STACKS
from tests.helpers.cli import run_verb
from tests.helpers.stacks import only_problem, settings_of, stack_config

SAMPLES = Path(__file__).parent / "adopt"
KEY = b"a" * 32
CLOUD_TAGS = {"owner": "set-by-hand"}
"""Tags the existing objects carry: what an import reads back, which the program never declared."""
NODE_ID = "R_kgDOLq3vVw"
"""What an importer reads back in place of a name the program declares (a repository's GraphQL node id)."""
TEAM_ID = "team_k2Vd8xQp4LmN7rTs0wYb3cHj"
"""What an importer reads into an input the program leaves to the provider (a Vercel object's team_id: its owner)."""


def sample(stack: str) -> Path:
    return SAMPLES / f"{stack}.inventory.yaml"


def inventory(stack: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(sample(stack).read_text(encoding="utf-8"))
    return loaded


def phase(value: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:bootstrapPhase"] = value

    return edit


@pytest.fixture(scope="module")
def adopt_plans() -> dict[str, Plan]:
    return {stack: run_program(stack, stack_config(stack, phase("adopt"))) for stack in STACKS}


def _account(stack: str) -> str:
    settings = settings_of(stack)
    return settings.aws_account_id if settings.declares_aws else ""


# ------------------------------------------------------------------------------------------- the import file


@pytest.mark.parametrize("stack", STACKS)
def test_the_sample_inventory_gives_a_valid_import_file(stack: str) -> None:
    run = run_verb(["adopt", "--stack", stack, "--inventory", str(sample(stack))])
    assert run.code == 0, run.err
    document = json.loads(run.out)
    assert set(document) == {"nameTable", "resources"}, sorted(document)
    plan = plan_stack(stack)
    by_urn = plan.by_urn()
    for name, urn in document["nameTable"].items():
        assert by_urn[urn].type.startswith(PROVIDER_PREFIX), f"{name}: {urn} is no provider of the stack"
        assert by_urn[urn].name == name, urn
    entries = {entry["name"]: entry for entry in document["resources"]}
    assert len(entries) == len(document["resources"]), "each name once"
    imported = [entry for entry in document["resources"] if not entry.get("component")]
    assert len(imported) == len(inventory(stack)), "every listed resource is imported, nothing else"
    for entry in document["resources"]:
        parent = entries.get(entry.get("parent", ""))
        assert "parent" not in entry or (parent is not None and parent.get("component")), entry
        reg = _registration(plan, entry, entries)
        if entry.get("component"):
            assert not reg.custom, entry
            continue
        row = lifecycle(entry["type"])
        assert row is not None, entry
        assert row.import_id is not None, entry
        assert re.fullmatch(row.import_id.pattern, entry["id"]), f"{reg.urn}: id {entry['id']!r}"
        assert document["nameTable"][entry["provider"]] == reg.provider, f"{reg.urn}: imported with its provider"
    assert "write-only" in run.err.lower() or stack == "development", run.err


def _registration(plan: Plan, entry: dict[str, Any], entries: dict[str, dict[str, Any]]) -> Registration:
    """The program's registration an import-file entry names: type, name and parent chain."""
    by_urn = plan.by_urn()
    for reg in plan.registrations:
        if (reg.type, reg.name) != (entry["type"], entry["name"]):
            continue
        parent = by_urn.get(reg.parent)
        named = entries.get(entry.get("parent", ""))
        if named is None and (parent is None or parent.type == "pulumi:pulumi:Stack"):
            return reg
        if named is not None and parent is not None and (parent.type, parent.name) == (named["type"], named["name"]):
            return reg
    raise AssertionError(f"the import file names {entry['type']} {entry['name']}, which the program does not declare")


def test_the_ids_are_the_importers_formats() -> None:
    document = adoption(plan_stack("production"), inventory("production"), _account("production")).document
    ids = {entry["type"].rsplit(":", 1)[-1]: entry["id"] for entry in document["resources"] if "id" in entry}
    assert ids["RepositoryEnvironment"] == "vibelog:production", ids
    assert ids["ActionsEnvironmentVariable"].startswith("vibelog:production:"), ids
    assert ids["OpenIdConnectProvider"] == (
        "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com"
    ), ids
    project = inventory("production")["Project vibelog"]
    assert ids["ProjectDomain"].startswith(f"{project}/"), ids
    assert re.fullmatch(rf"{project}/[A-Za-z0-9]+", ids["ProjectEnvironmentVariable"]), ids
    assert ids["Schedule"] == "PVIB0P1", f"the schedule that paged first is adopted by its id: {ids}"
    store = inventory("production")["EdgeConfig vibelog-flags"]
    assert ids["EdgeConfig"] == store, f"the store is imported by its id alone, in the provider's team: {ids}"


def test_the_records_of_an_adopted_zone_are_adopted_with_it() -> None:
    """An adopted zone already answers for the app's names; a record left out would stop the `up` on Route 53's
    refusal of its CREATE. The record that exists is a simple one (terraform-provider-aws route53/record.go
    recordImportID: no set identifier), taken over by the failover primary of its name."""
    plan = plan_stack("production")
    labels = {c.label: c for c in candidates(plan) if c.registration.type == RECORD}
    assert set(labels) == {"Record vibelog.io A primary-vercel", "Record www.vibelog.io CNAME primary-vercel"}, (
        "only the primaries: a secondary is created after its primary, and a validation record's name is the "
        f"certificate's: {sorted(labels)}"
    )
    zone = inventory("production")["Zone vibelog.io"]
    document = adoption(plan, inventory("production"), _account("production")).document
    ids = {entry["name"]: entry["id"] for entry in document["resources"] if entry["type"] == RECORD}
    assert ids == {"dns-apex-primary": f"{zone}_vibelog.io_A", "dns-www-primary": f"{zone}_www.vibelog.io_CNAME"}, ids


def test_the_protection_of_main_is_adopted_by_repository_and_pattern() -> None:
    """A live repository's main is protected already, and createBranchProtectionRule refuses a protected pattern
    (integrations/terraform-provider-github#1699: Name already protected): left out of the inventory, the `up`
    stops there. The importer parses <repository>:<pattern> (resource_github_branch_protection.go parseID2)."""
    plan = plan_stack("production")
    labels = {c.label for c in candidates(plan) if c.registration.type == BRANCH_PROTECTION}
    assert labels == {"BranchProtection vibelog main", "BranchProtection vibelog-infra main"}, sorted(labels)
    document = adoption(plan, inventory("production"), _account("production")).document
    ids = sorted(entry["id"] for entry in document["resources"] if entry["type"] == BRANCH_PROTECTION)
    assert ids == ["vibelog-infra:main", "vibelog:main"], ids


def test_an_adopted_protection_is_not_replaced_for_its_repositorys_node_id() -> None:
    """The importer stores the repository's node id in repository_id, a ForceNew input the program gives by name:
    compared, the `up` after the import would replace the rule create-first, and the create fails on the pattern
    the old rule still holds (or, delete-first, leave main unprotected). The program ignores it; another
    repository is another resource name, so it is created beside the old one and never an ignored change."""
    plan = plan_stack("production")
    adopted = {reg.urn for reg in plan.by_type(BRANCH_PROTECTION)}
    assert len(adopted) == 2, "production protects both repositories' main"
    diff = diff_plans(_imported_state(plan, adopted), plan_json(plan, KEY))
    touched = [f"{c.op} {c.urn}: {[p.path for p in c.properties]}" for c in diff.resources if c.urn in adopted]
    assert not touched, f"the imported rules' node ids change them: {touched}"

    def move_app(config: dict[str, Any]) -> None:
        config["vibelog:app"]["repository"] = "vibelog/vibelog-web"

    moved = run_program("production", stack_config("production", move_app))
    diff = diff_plans(plan_json(plan, KEY), plan_json(moved, KEY))
    ops = sorted((c.op, c.name) for c in diff.resources if c.type == BRANCH_PROTECTION)
    assert ops == [("create", "ci-branch-protection-vibelog-web"), ("delete", "ci-branch-protection-vibelog")], ops


def test_every_input_an_importer_reads_differently_is_ignored() -> None:
    for stack in STACKS:
        for candidate in candidates(plan_stack(stack)):
            reg = candidate.registration
            missing = set(candidate.import_id.read_differently) - set(reg.ignore_changes)
            assert not missing, f"{reg.urn}: the `up` after its import would change {sorted(missing)}"


def test_the_edge_config_store_the_app_reads_is_adopted_not_created_again() -> None:
    """The app reads its flags from a store that exists (EDGE_CONFIG is its connection string). Not adopted, the
    first `up` creates a second store, moves EDGE_CONFIG to it and leaves the flags set by hand behind. Adopted, the
    import reads the store's slug into `name` and its owner into `team_id` (resource_edge_config.go
    responseToEdgeConfig): a slug set by hand is renamed in place, and team_id, RequiresReplaceIfConfigured and
    never configured (the program names the team on the provider), keeps the state's value."""
    plan = plan_stack("production")
    (candidate,) = [c for c in candidates(plan) if c.registration.type == EDGE_CONFIG]
    assert candidate.label == "EdgeConfig vibelog-flags", candidate.label
    store = candidate.registration.urn
    result = adoption(plan, inventory("production"), _account("production"))
    (entry,) = [entry for entry in result.document["resources"] if entry["type"] == EDGE_CONFIG]
    assert entry["id"] == "ecfg_4sxk0n2p7qv9w3mdy8ha1tjc6bre", f"{store}: {entry}"
    assert {"type": "vibelog:flags:FeatureFlags", "name": "flags", "component": True} in result.document["resources"], (
        f"{store}: its component is in the import file"
    )

    imported = _imported_state(plan, {c.registration.urn for c in result.adopted})
    for step in imported["steps"]:
        if step["newState"]["urn"] == store:
            step["newState"]["inputs"]["name"] = "flags"  # the slug it was given by hand
    diff = diff_plans(imported, plan_json(plan, KEY))
    (change,) = [c for c in diff.resources if c.urn == store]
    assert (change.op, [p.path for p in change.properties]) == ("update", ["name"]), (
        f"{store}: the `up` after the import renames it in place, nothing else: {change}"
    )
    assert not [c.urn for c in diff.resources if c.type == EDGE_CONFIG and c.op in {"create", "replace"}], (
        f"{store}: no second store"
    )
    created = {c.type for c in diff.resources if c.op == "create"}
    assert {EDGE_CONFIG_ITEM, EDGE_CONFIG_TOKEN} <= created, "the declared items are upserted, a read token is made"


def test_a_record_needs_its_zone_id() -> None:
    with pytest.raises(InventoryError, match="needs the zoneId"):
        adoption(plan_stack("staging"), {"Record staging.vibelog.io A": True}, _account("staging"))

    def adopt_zone(config: dict[str, Any]) -> None:
        config["vibelog:dns"].pop("createZone")
        config["vibelog:dns"]["zoneId"] = "/hostedzone/Z0123456789ABCDEFGHIJ"

    plan = run_program("staging", stack_config("staging", adopt_zone))
    document = adoption(plan, {"Record staging.vibelog.io A": True}, _account("staging")).document
    ids = [entry["id"] for entry in document["resources"] if entry["type"] == RECORD]
    assert ids == ["Z0123456789ABCDEFGHIJ_staging.vibelog.io_A"], f"the zone adopted by zoneId names it: {ids}"


def test_one_object_listed_under_two_labels_is_refused() -> None:
    """`pulumi import` would adopt one Vercel variable twice, and each resource's `up` would write it."""
    listed = dict(inventory("staging"))
    listed["ProjectEnvironmentVariable NEXTAUTH_URL production+preview"] = listed[
        "ProjectEnvironmentVariable NODE_ENV production+preview"
    ]
    expected = "NODE_ENV production+preview: the same object as ProjectEnvironmentVariable NEXTAUTH_URL"
    with pytest.raises(InventoryError, match=re.escape(expected)):
        adoption(plan_stack("staging"), listed, _account("staging"))


def test_secrets_are_listed_as_write_only_never_imported() -> None:
    result = adoption(plan_stack("production"), inventory("production"), _account("production"))
    secrets = [c.label for c in result.write_only]
    assert secrets, "production declares Actions secrets"
    assert all(c.registration.type == ENVIRONMENT_SECRET for c in result.write_only), secrets
    assert ENVIRONMENT_SECRET not in {entry["type"] for entry in result.document["resources"]}
    run = run_verb(["adopt", "--stack", "production", "--inventory", str(sample("production"))])
    assert "replaces the value GitHub holds" in run.err, run.err


def test_without_an_inventory_the_verb_prints_one_to_fill_in() -> None:
    run = run_verb(["adopt", "--stack", "staging"])
    assert run.code == 0, run.err
    template = yaml.safe_load(run.out)
    labels = {c.label for c in candidates(plan_stack("staging")) if not c.import_id.write_only}
    assert set(template) == labels, sorted(labels ^ set(template))
    assert all(value is None for value in template.values())
    assert set(inventory("staging")) <= labels, "the sample fills in the template's labels"


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Project vibelog-stagin: prj_1\n", "did you mean Project vibelog-staging?"),
        ("Zone staging.vibelog.io: zone-1\n", "is not an id of this type"),
        ("Zone staging.vibelog.io: true\n", "its zoneId"),
        ("ProjectDomain staging.vibelog.io: true\n", "needs the projectId"),
        ("Project vibelog-staging: prj_1/../../x\n", "is not an id of this type"),
        ("EdgeConfig vibelog-staging-flags: prj_1\n", "is not an id of this type"),
        ("EdgeConfig vibelog-staging-flags: true\n", "its edgeConfigId"),
        ("- a list\n", "must map each resource's label"),
        ("Project vibelog-staging: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_wrong_inventory_is_refused_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    run = run_verb(["adopt", "--stack", "staging", "--inventory", str(path)])
    assert run.code == 2, (run.code, run.err)
    assert run.out == "", "nothing is written when the inventory is wrong"
    assert expected in run.err, run.err
    assert len(run.err.strip().splitlines()) == 1, run.err


def test_a_write_only_secret_in_the_inventory_is_refused() -> None:
    label = next(c.label for c in candidates(plan_stack("production")) if c.import_id.write_only)
    with pytest.raises(InventoryError, match="cannot be imported"):
        adoption(plan_stack("production"), {label: True}, _account("production"))


def test_a_missing_inventory_file_is_a_usage_error(tmp_path: Path) -> None:
    run = run_verb(["adopt", "--stack", "staging", "--inventory", str(tmp_path / "absent.yaml")])
    assert (run.code, run.out) == (2, ""), run
    assert "absent.yaml cannot be read" in run.err, run.err


# -------------------------------------------------------------------------------------- the adopt phase


def _imported_state(plan: Plan, adopted: set[str]) -> dict[str, Any]:
    """The stack's state once `pulumi import --file` has run: the adopted resources as they exist (carrying the
    cloud's own tags), their components and the providers; nothing else."""
    document = plan_json(plan, KEY)
    steps = []
    for step in document["steps"]:
        state = step["newState"]
        if state["urn"] in adopted:
            inputs = {**state.get("inputs", {})}
            if state["type"].startswith("aws:"):
                inputs["tags"] = CLOUD_TAGS
            row = lifecycle(state["type"])
            for name in row.import_id.read_differently if row is not None and row.import_id is not None else ():
                inputs[name] = NODE_ID
            for name in row.computed if row is not None else ():
                inputs.setdefault(name, TEAM_ID)
            steps.append({**step, "newState": {**state, "inputs": inputs}})
        elif not state.get("custom", True) or state["type"].startswith(PROVIDER_PREFIX):
            steps.append(step)
    return {**document, "steps": steps}


@pytest.mark.parametrize("stack", STACKS)
def test_the_adopt_phase_creates_and_retags_nothing_it_adopted(stack: str, adopt_plans: dict[str, Plan]) -> None:
    plan = adopt_plans[stack]
    result = adoption(plan, inventory(stack), _account(stack))
    adopted = {c.registration.urn for c in result.adopted}
    assert adopted, f"{stack}: the sample adopts something"
    diff = diff_plans(_imported_state(plan, adopted), plan_json(plan, KEY))
    touched = [f"{c.op} {c.urn}: {[p.path for p in c.properties]}" for c in diff.resources if c.urn in adopted]
    assert not touched, f"{stack}: the adopt phase changes what it adopted: {touched}"
    created = {c.urn for c in diff.resources if c.op == "create"}
    assert created.isdisjoint(adopted)
    assert {c.registration.urn for c in result.created} <= created, "what the inventory leaves out is created"


def test_the_complete_phase_then_tags_what_was_adopted(adopt_plans: dict[str, Plan], production: Plan) -> None:
    result = adoption(production, inventory("production"), _account("production"))
    adopted = {c.registration.urn for c in result.adopted}
    diff = diff_plans(_imported_state(adopt_plans["production"], adopted), plan_json(production, KEY))
    retagged = {c.urn for c in diff.resources if any(p.path.startswith("tags") for p in c.properties)}
    aws_adopted = {urn for urn in adopted if "::aws:" in urn or "$aws:" in urn}
    assert aws_adopted, "production adopts AWS resources"
    assert retagged == aws_adopted, sorted(retagged ^ aws_adopted)


def test_only_the_adopt_phase_ignores_aws_tags(adopt_plans: dict[str, Plan], production: Plan) -> None:
    aws = [r for r in adopt_plans["production"].registrations if r.custom and r.type.startswith("aws:")]
    assert aws, "production declares AWS resources"
    for reg in aws:
        assert {"tags", "tagsAll"} <= set(reg.ignore_changes), f"{reg.urn} would change tags in the import's up"
    assert not [r.urn for r in production.registrations if "tags" in r.ignore_changes], "complete manages tags"
    assert adopt_plans["production"].outputs["bootstrap_phase"] == "adopt"
    assert "vibelog:bootstrapPhase complete" in adopt_plans["production"].outputs["bootstrap_next_step"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_adopt_phase_declares_what_complete_declares(stack: str, adopt_plans: dict[str, Plan]) -> None:
    complete = plan_stack(stack)
    assert [r.urn for r in adopt_plans[stack].registrations] == [r.urn for r in complete.registrations]


# -------------------------------------------------------------------------------------------------- the zone


def test_a_zone_is_created_only_when_the_stack_says_so() -> None:
    problem = only_problem("production", lambda c: c["vibelog:dns"].pop("createZone"))
    assert problem.path == "vibelog:dns.zoneId", problem
    assert "createZone" in problem.expected, problem


def test_an_existing_zone_is_adopted_by_id_without_a_tag_change() -> None:
    def adopt_zone(config: dict[str, Any]) -> None:
        config["vibelog:dns"].pop("createZone")
        config["vibelog:dns"]["zoneId"] = "/hostedzone/Z0123456789ABCDEFGHIJ"

    plan = run_program("production", stack_config("production", adopt_zone))
    zone = plan.one(HOSTED_ZONE, "dns-zone")
    assert zone.import_id == "Z0123456789ABCDEFGHIJ", zone.urn
    assert {"tags", "tagsAll"} <= set(zone.ignore_changes), f"{zone.urn}: pulumi/pulumi-aws#5284"


def test_an_adopted_zone_imports_whatever_its_comment() -> None:
    """The engine's import step fails the `up` when a declared input differs from what the provider reads, and
    resourceZoneRead reads the zone's own comment (terraform-provider-aws route53/zone.go): a registrar-made zone's
    comment must not stop the import (the mocks, which import nothing, never compare it)."""

    def adopt_zone(config: dict[str, Any]) -> None:
        config["vibelog:dns"].pop("createZone")
        config["vibelog:dns"]["zoneId"] = "Z0123456789ABCDEFGHIJ"

    plan = run_program("production", stack_config("production", adopt_zone))
    zone = plan.one(HOSTED_ZONE, "dns-zone")
    document = plan_json(plan, KEY)
    steps = []
    for step in document["steps"]:
        state = step["newState"]
        if state["urn"] == zone.urn:
            read = {**state["inputs"], "comment": "HostedZone created by Route53 Registrar", "tags": CLOUD_TAGS}
            state = {**state, "inputs": read}
        steps.append({**step, "newState": state})
    diff = diff_plans({**document, "steps": steps}, document)
    changed = [f"{c.op}: {[p.path for p in c.properties]}" for c in diff.resources if c.urn == zone.urn]
    assert not changed, f"{zone.urn}: its import step would fail on {changed}"


def test_both_zone_choices_at_once_are_refused() -> None:
    problem = only_problem("staging", lambda c: c["vibelog:dns"].update(zoneId="Z0123456789ABCDEFGHIJ"))
    assert problem.path == "vibelog:dns.zoneId", problem


def test_an_imported_oidc_provider_changes_no_tag_in_its_import_step() -> None:
    arn = "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com"
    plan = run_program(
        "production", stack_config("production", lambda c: c["vibelog:ci"].update(importOidcProvider=arn))
    )
    provider = plan.one(OIDC_PROVIDER, "ci-aws-github-oidc")
    assert provider.import_id == arn, provider.urn
    assert {"tags", "tagsAll"} <= set(provider.ignore_changes), f"{provider.urn}: pulumi/pulumi-aws#5284"
