"""`python -m ops config-backup` and `config-restore` against moto's S3 and KMS and the Vercel stand-in: a restore
drill that brings the files back byte for byte, a region loss where only the replica key is reachable, refusals."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops import cli, config_backup, vault
from settings.stackfile import checked_config
from settings.stacks import PROJECT_DIR
from tests.helpers.aws_calls import recorded_calls
from tests.ops_servers import REGION, S3Server
from tests.runbook_servers import TOKEN, World, stand_in

PRIMARY = "us-east-1"
# A `secure:` value as the CLI writes it (v1:<12-byte nonce>:<sealed value and tag>), never decrypted here.
CIPHERTEXT = "v1:" + base64.b64encode(b"n" * 12).decode() + ":" + base64.b64encode(b"s" * 40).decode()
SECRETS = {
    "env_db": "postgresql://app:db-password-CANARY@db.example.com/app",
    "env_key": "sk-live-CANARY-openai",
    "env_big": "big-CANARY-" + "x" * 5000,
    "env_sensitive": "sensitive-CANARY-never-returned",
    "env_empty": "",
}


def envs() -> list[dict[str, Any]]:
    """The Vercel project's variables: two readable, one too large for KMS, one sensitive, one empty."""
    return [
        {"id": "env_db", "key": "DATABASE_URL", "type": "encrypted", "target": ["production", "preview"]},
        {"id": "env_key", "key": "OPENAI_API_KEY", "type": "encrypted", "target": ["production"], "gitBranch": None},
        {"id": "env_big", "key": "BIG_BLOB", "type": "encrypted", "target": ["preview"]},
        {"id": "env_sensitive", "key": "SUPABASE_SERVICE_ROLE_KEY", "type": "sensitive", "target": ["production"]},
        {"id": "env_empty", "key": "EMPTY_NOTE", "type": "plain", "target": ["development"]},
    ]


@dataclass
class Setup:
    """The servers, the vault's bucket, the configuration key and a checkout holding the stack's files."""

    s3: S3Server
    kms_server: S3Server
    bucket: str
    key_arn: str
    world: World
    checkout: Path
    monkeypatch: pytest.MonkeyPatch
    last_err: str = ""
    """What the last `backup` printed on stderr."""

    def kms(self, region: str) -> Any:
        """A KMS client of moto's server in `region`."""
        return boto3.client(
            "kms",
            endpoint_url=self.kms_server.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stored(self) -> dict[str, bytes]:
        """Every object under config/, by key."""
        client = self.s3.client()
        listed = client.list_objects_v2(Bucket=self.bucket, Prefix="config/").get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read() for item in listed}


def checkout_of(directory: Path, stack: str, secret: str | None = None) -> Path:
    """The repository's Pulumi.yaml and stack file copied into `directory`, plus one `vibelog:secrets` value."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_bytes((PROJECT_DIR / "Pulumi.yaml").read_bytes())
    text = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    value = secret if secret is not None else f"\n      secure: {CIPHERTEXT}"
    text += f"  vibelog:secrets:\n    openaiApiKey:{' ' if secret is not None else ''}{value}\n"
    (directory / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def setup(aws_env: S3Server, kms_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Setup]:
    kms = boto3.client(
        "kms", endpoint_url=kms_server.endpoint, region_name=PRIMARY, aws_access_key_id="t", aws_secret_access_key="t"
    )
    key = kms.create_key(MultiRegion=True, Description="vibelog-staging-config")["KeyMetadata"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=REGION)
    world = World(envs=[{**item, "value": SECRETS[item["id"]], "updatedAt": 1} for item in envs()])
    bucket = aws_env.bucket(locked=True)
    with stand_in(world) as base:
        for name, value in {
            "AWS_ENDPOINT_URL_KMS": kms_server.endpoint,
            "BACKUP_DATABASE_BUCKET": bucket,
            "CONFIG_KMS_KEY_ARN": key["Arn"],
            "CONFIG_KMS_REGION": PRIMARY,
            "VERCEL_API_URL": base,
            "VERCEL_TOKEN": TOKEN,
            "VERCEL_ORG_ID": "team_1",
            "VERCEL_PROJECT_ID": "prj_1",
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"):
            monkeypatch.delenv(name, raising=False)
        yield Setup(
            aws_env, kms_server, bucket, key["Arn"], world, checkout_of(tmp_path / "checkout", "staging"), monkeypatch
        )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`python -m ops ARGV` in this process: its exit code, stdout and stderr."""
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:  # argparse's usage error
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_secret(where: str, text: str | bytes) -> None:
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for env_id, secret in SECRETS.items():
        assert not secret or secret[:30] not in shown, f"the value of {env_id} appears in {where}"
    assert TOKEN not in shown, f"the Vercel token appears in {where}"


def backup(setup: Setup, capsys: pytest.CaptureFixture[str], stack: str = "staging") -> tuple[str, dict[str, Any]]:
    code, out, err = run(capsys, "config-backup", "--stack", stack, "--dir", str(setup.checkout))
    assert code == 0, f"config-backup of {stack}: exit {code}: {err}"
    assert_no_secret("config-backup's output", out + err)
    setup.last_err = err
    [(key, body)] = setup.stored().items()
    assert_no_secret(f"s3://{setup.bucket}/{key}", body)
    assert key in out, f"config-backup does not name {key}: {out}"
    return key, json.loads(body)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_restore_drill_brings_the_files_back_byte_for_byte(
    stack: str, setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.checkout = checkout_of(tmp_path / stack, stack)
    originals = {path.name: path.read_bytes() for path in setup.checkout.iterdir()}
    key, document = backup(setup, capsys, stack)
    assert key.startswith(f"config/{stack}/"), key
    assert key.endswith(".json"), key
    assert (document["stack"], document["format"]) == (stack, 1), key
    assert document["secrets_provider"] == config_backup.DEFAULT_PROVIDER, key
    assert f"warning: Pulumi.{stack}.yaml's secrets are encrypted by the backend's own provider" in setup.last_err, (
        f"{key}: no warning that the secrets die with the backend"
    )
    assert vault.stamp(vault.parse_time(document["taken_at"])) in key, f"{key} is not named for {document['taken_at']}"
    assert sorted(document["files"]) == sorted(originals), key
    for path in setup.checkout.iterdir():
        path.unlink()

    code, out, err = run(capsys, "config-restore", "--stack", stack, "--to", str(setup.checkout))
    assert code == 0, f"config-restore of {key}: exit {code}: {err}"
    restored = {path.name: path.read_bytes() for path in setup.checkout.iterdir()}
    inventory = restored.pop(f"vercel-env.{stack}.json")
    assert restored == originals, f"{key}: the files restored are not the ones backed up"
    checked_config(stack, setup.checkout)  # `plan` accepts them
    assert json.loads(inventory) == document["vercel"], f"{key}: vercel-env.{stack}.json is not the inventory"
    assert_no_secret(f"vercel-env.{stack}.json", inventory)
    assert_no_secret("config-restore's output", out + err)

    # Twice is once: nothing rewritten, the same bytes.
    code, out, err = run(capsys, "config-restore", "--stack", stack, "--to", str(setup.checkout))
    assert code == 0, err
    assert out.count("unchanged") == 2, f"the second restore of {key} rewrote a file:\n{out}"
    again = {path.name: path.read_bytes() for path in setup.checkout.iterdir()}
    assert again == {**originals, f"vercel-env.{stack}.json": inventory}, key

    # A stack file changed since is refused, left byte for byte, then replaced with --overwrite.
    stack_path = setup.checkout / f"Pulumi.{stack}.yaml"
    changed = stack_path.read_bytes().replace(b"maintenanceMode: false", b"maintenanceMode: true")
    stack_path.write_bytes(changed)
    code, out, err = run(capsys, "config-restore", "--stack", stack, "--to", str(setup.checkout))
    assert code == 2, f"a differing {stack_path.name} was not refused: {out}{err}"
    assert "--overwrite" in err, err
    assert stack_path.name in err, err
    assert stack_path.read_bytes() == changed, f"{stack_path} was touched by a refused restore"
    code, out, err = run(capsys, "config-restore", "--stack", stack, "--to", str(setup.checkout), "--overwrite")
    assert code == 0, err
    assert stack_path.read_bytes() == originals[stack_path.name], f"--overwrite did not restore {stack_path}"


def test_after_a_region_loss_the_values_decrypt_with_the_replica_alone(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, document = backup(setup, capsys)
    # A region holding no copy of the key: nothing decrypts, and nothing is written.
    setup.monkeypatch.setenv("CONFIG_KMS_REGION", "eu-west-1")
    code, out, err = run(capsys, "config-restore", "--stack", "staging", "--to", str(tmp_path / "nowhere"))
    assert code == 1, f"{key} restored with no key in eu-west-1: {out}"
    assert "does not decrypt with the configuration key in eu-west-1" in err, err
    assert not (tmp_path / "nowhere").exists(), "a restore whose values do not decrypt wrote files"
    # The primary region is gone: the restore is pointed at the vault's region, and every KMS call goes there.
    setup.monkeypatch.setenv("CONFIG_KMS_REGION", REGION)
    regions: list[str] = []
    target = tmp_path / "after-loss"
    with recorded_calls():
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "before-call.kms", lambda context, **_: regions.append(str(context.get("client_region")))
        )
        code, out, err = run(capsys, "config-restore", "--stack", "staging", "--to", str(target))
    assert code == 0, f"config-restore of {key} in {REGION}: exit {code}: {err}"
    assert regions, "the restore made no KMS call"
    assert set(regions) == {REGION}, f"KMS calls of the restore went to {sorted(set(regions))}"
    assert f"in {REGION}" in out, out
    assert_no_secret("config-restore's output", out + err)
    # The replica alone decrypts each kept value, only as the variable of the stack it was written for.
    replica = setup.kms(REGION)
    kept = {item["id"]: item for item in document["vercel"]["variables"]}
    assert set(kept) == set(SECRETS), key
    for env_id in ("env_db", "env_key"):
        item = kept[env_id]
        blob = base64.b64decode(item["value"])
        plain = replica.decrypt(
            CiphertextBlob=blob, EncryptionContext={"stack": "staging", "key": item["key"], "id": env_id}
        )
        assert plain["Plaintext"].decode() == SECRETS[env_id], f"{env_id} does not decrypt in {REGION}"
        assert plain["KeyId"].split(":")[3] == REGION, plain["KeyId"]
        with pytest.raises(replica.exceptions.InvalidCiphertextException):
            replica.decrypt(
                CiphertextBlob=blob, EncryptionContext={"stack": "production", "key": item["key"], "id": env_id}
            )
    assert_no_secret(f"vercel-env.staging.json in {target}", (target / "vercel-env.staging.json").read_bytes())


def test_a_value_the_api_does_not_return_or_kms_cannot_take_is_kept_as_null_with_why(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    key, document = backup(setup, capsys)
    kept = {item["key"]: item for item in document["vercel"]["variables"]}
    sensitive, big = kept["SUPABASE_SERVICE_ROLE_KEY"], kept["BIG_BLOB"]
    assert sensitive["value"] is None, f"{key}: {sensitive}"
    assert "sensitive" in sensitive["why"], f"{key}: {sensitive}"
    assert big["value"] is None, f"{key}: {big}"
    assert "4096 bytes" in big["why"], f"{key}: {big}"
    # KMS refuses an empty plaintext (its Plaintext has a minimum length of 1): kept as null, never a failed run.
    assert kept["EMPTY_NOTE"]["value"] is None, f"{key}: {kept['EMPTY_NOTE']}"
    assert "empty" in kept["EMPTY_NOTE"]["why"], f"{key}: {kept['EMPTY_NOTE']}"
    assert "env_sensitive" not in setup.world.value_reads, "the value of a sensitive variable was asked for"
    assert kept["DATABASE_URL"]["target"] == ["preview", "production"], "targets are sorted"
    assert kept["DATABASE_URL"]["why"] is None, key
    assert kept["DATABASE_URL"]["value"], key
    assert list(kept) == sorted(kept), f"{key}: the variables are not in key order"
    body = setup.stored()[key]
    assert body == json.dumps(document, indent=2, sort_keys=True).encode(), f"{key} is not sorted, indented JSON"


def test_a_plaintext_secret_is_refused_by_its_path_and_nothing_is_written(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for secret in ("sk-plain-CANARY-secret", "\n      secure: sk-wrapped-CANARY-secret"):
        checkout = checkout_of(tmp_path / str(len(secret)), "staging", secret)
        code, out, err = run(capsys, "config-backup", "--stack", "staging", "--dir", str(checkout))
        assert code == 2, f"a stack file with {secret!r} was backed up: {out}{err}"
        assert "vibelog:secrets.openaiApiKey" in err, err
        assert "CANARY" not in out + err, "the plaintext secret was printed"
        assert err.count("\n") == 1, err
    assert setup.stored() == {}, "a refused backup wrote an object"
    assert setup.world.value_reads == [], "the Vercel values were read before the stack file was checked"


def test_an_unknown_stack_or_a_stack_without_backups_is_refused(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for verb, where in (("config-backup", "--dir"), ("config-restore", "--to")):
        code, _, err = run(capsys, verb, "--stack", "nowhere", where, str(tmp_path))
        assert code == 2, f"{verb} of an unknown stack: {err}"
        assert "invalid choice" in err, err
    code, _, err = run(capsys, "config-restore", "--stack", "production", "--to", str(tmp_path / "x"))
    assert code == 1, err
    assert err == f"error: no configuration backup of stack production in s3://{setup.bucket}/config/production/\n"
    assert not (tmp_path / "x").exists(), "a failed restore created its directory"


@pytest.mark.parametrize("under", [False, True])
def test_a_target_that_is_a_file_is_bad_input_in_one_line(
    under: bool, setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(setup, capsys)
    a_file = tmp_path / "a-file"
    a_file.write_text("kept\n", encoding="utf-8")
    target = a_file / "config" if under else a_file

    code, out, err = run(capsys, "config-restore", "--stack", "staging", "--to", str(target))

    assert code == 2, f"--to {target} (a file{' above it' if under else ''}) is bad input, got exit {code}: {err}"
    assert err == f"error: --to {target} cannot be written in ({a_file} is not a writable directory)\n", err
    assert out == "", f"a refused restore printed: {out}"
    assert a_file.read_text(encoding="utf-8") == "kept\n", f"{a_file} was touched"


def test_a_target_whose_name_is_not_utf8_is_restored_and_named_escaped(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(setup, capsys)
    target = tmp_path / os.fsdecode(b"config-\xff")  # a byte no UTF-8 text has, as argv carries it

    code, out, err = run(capsys, "config-restore", "--stack", "staging", "--to", str(target))

    assert code == 0, f"config-restore into {target!r}: exit {code}: {err}"
    assert (target / "Pulumi.staging.yaml").is_file(), f"nothing restored into {target!r}"
    assert "config-\\udcff" in out, f"the target is not named, escaped: {out}"


def test_a_tampered_backup_is_refused_and_nothing_is_written(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unversioned bucket, so the backup's only version can be rewritten.
    setup.bucket = setup.s3.unversioned_bucket()
    setup.monkeypatch.setenv("BACKUP_DATABASE_BUCKET", setup.bucket)
    key, document = backup(setup, capsys)
    entry = document["files"]["Pulumi.staging.yaml"]
    for tampered in (
        {**document, "files": {**document["files"], "Pulumi.staging.yaml": {**entry, "text": entry["text"] + "#"}}},
        config_backup.seal(
            {**document, "files": {**document["files"], "Pulumi.staging.yaml": {**entry, "text": entry["text"] + "#"}}}
        ),
    ):
        setup.s3.client().put_object(Bucket=setup.bucket, Key=key, Body=config_backup.json_text(tampered).encode())
        target = tmp_path / "restored"
        code, out, err = run(capsys, "config-restore", "--stack", "staging", "--to", str(target))
        assert code == 1, f"a tampered {key} was restored: {out}"
        assert "does not match" in err, err
        assert key in err, err
        assert not target.exists(), f"a refused restore of {key} wrote into {target}"


def test_a_run_whose_key_exists_is_refused_before_anything_is_read_or_written(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    moment = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    setup.monkeypatch.setattr(vault, "now", lambda: moment)
    setup.monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    setup.monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "1")
    key = f"config/staging/{vault.stamp(moment)}-4242-1.json"
    setup.s3.client().put_object(Bucket=setup.bucket, Key=key, Body=b"{}", ChecksumAlgorithm="SHA256")
    with recorded_calls() as calls:
        code, _, err = run(capsys, "config-backup", "--stack", "staging", "--dir", str(setup.checkout))
    assert code == 1, err
    assert err == f"error: s3://{setup.bucket}/{key} exists already: another run wrote under this name\n"
    made = sorted({call.operation for call in calls})
    assert made == ["ListObjectsV2"], f"calls made by a refused run: {made}"
    assert setup.world.value_reads == [], "the Vercel values were read by a run that could not write"
    assert setup.stored() == {key: b"{}"}, f"{key} was changed"


def test_a_paged_or_repeating_variables_list_is_refused_rather_than_kept_in_part(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.world.env_next_page = 1700000000000
    code, _, err = run(capsys, "config-backup", "--stack", "staging", "--dir", str(setup.checkout))
    assert code == 1, err
    assert "in pages" in err, err
    assert "no partial inventory" in err, err
    assert setup.stored() == {}, "a partial inventory was written"
    setup.world.env_next_page = None
    setup.world.envs.append(dict(setup.world.envs[0]))
    code, _, err = run(capsys, "config-backup", "--stack", "staging", "--dir", str(setup.checkout))
    assert code == 1, err
    assert "twice" in err, err
    assert setup.stored() == {}, "an inventory listing one variable twice was written"


def test_a_stack_on_its_configuration_key_is_recorded_so_and_not_warned_about(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    stack_file = setup.checkout / "Pulumi.staging.yaml"
    provider = "awskms://alias/vibelog-staging-config?region=us-east-1"
    stack_file.write_text(f"secretsprovider: {provider}\nencryptedkey: AQICAHh0ZXN0\n" + stack_file.read_text())
    key, document = backup(setup, capsys)
    assert document["secrets_provider"] == provider, key
    assert "warning" not in setup.last_err, setup.last_err
    assert document["files"]["Pulumi.staging.yaml"]["text"] == stack_file.read_text(), key
