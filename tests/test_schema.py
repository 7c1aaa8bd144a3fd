"""The generated stack-file JSON Schema and README config reference match the settings models."""

from __future__ import annotations

from infra.cli import schema as schema_verb
from infra.config import schema


def test_generated_files_are_up_to_date() -> None:
    assert schema_verb.main(["--check"]) == 0, "run `make schema` and commit the result"


def test_secret_fields_accept_only_encrypted_values_in_a_stack_file() -> None:
    document = schema.stack_file_schema()
    secrets = document["$defs"]["SecretSettings"]["properties"]
    assert secrets["openaiApiKey"]["anyOf"] == [schema.SECURE], "a plaintext secret must not validate"


def test_the_reference_lists_every_key_with_its_default() -> None:
    table = schema.config_reference()
    assert "| `vibelog:featureFlags.DEBUG_MODE` | bool or {rolloutPercent} | required |" in table
    assert '| `vibelog:operations.securityMode` | `standard` or `enhanced` | `"standard"` |' in table
