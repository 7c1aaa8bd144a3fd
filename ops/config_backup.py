"""`python -m ops config-backup` and `config-restore`: the stacks' configuration, and the Vercel project's
environment as KMS ciphertext, one JSON document per run in the vault, brought back into a checkout after the
loss of the Pulumi backend or of a region (docs/backups.md, "Configuration backup")."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ops import environment, report, vault
from ops.environment import Variable
from ops.errors import BadInputError, JobError
from ops.runbook import cli as runbook_cli
from ops.runbook.stackfile import refusal, write_whole
from ops.runbook.vercel import VercelApi
from settings.loader import ConfigError
from settings.stackfile import StackFileError, checked_config, load_yaml, read_text_bounded
from settings.stacks import STACKS

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

PREFIX = "config/"
FORMAT = 1
PROJECT_FILE = "Pulumi.yaml"
# KMS Encrypt takes at most 4096 bytes of plaintext; a larger value is recorded without it.
MAX_VALUE_BYTES = 4096
DEFAULT_PROVIDER = "default (the backend's)"
# Vercel's type for a value its API never returns once written.
SENSITIVE = "sensitive"

VAULT_ENV = (
    Variable("BACKUP_VAULT_REGION", "the backup vault's AWS region"),
    Variable("BACKUP_DATABASE_BUCKET", "the vault's database bucket, whose config/ prefix holds the backups"),
)
BACKUP_ENV = (
    *VAULT_ENV,
    Variable("CONFIG_KMS_KEY_ARN", "the ARN of the stack's configuration key (the multi-region primary)"),
    Variable("CONFIG_KMS_REGION", "the region of that key (the primary's)"),
    *runbook_cli.VERCEL_ENV,
    Variable("VERCEL_PROJECT_ID", "the Vercel project whose environment variables are kept"),
    *vault.RUN_ENV,
)
RESTORE_ENV = (
    *VAULT_ENV,
    Variable(
        "CONFIG_KMS_REGION", "the region whose configuration key decrypts the values (the replica's after a loss)"
    ),
)
env = environment.value


class KMSClient(Protocol):
    """The two KMS calls the jobs make (botocore's client; its stubs are not installed)."""

    def encrypt(self, **kwargs: Any) -> dict[str, Any]: ...

    def decrypt(self, **kwargs: Any) -> dict[str, Any]: ...


def kms_client() -> KMSClient:
    """KMS in $CONFIG_KMS_REGION (AWS_ENDPOINT_URL_KMS points it at a stand-in in tests)."""
    with vault.region("CONFIG_KMS_REGION") as region:
        return cast("KMSClient", boto3.client("kms", region_name=region, config=vault.client_config()))


def stack_prefix(stack: str) -> str:
    """Where a stack's configuration backups are kept."""
    return f"{PREFIX}{stack}/"


def backup_key(stack: str, moment: datetime, run: str) -> str:
    """`config/<stack>/<UTC timestamp>-<run>.json`."""
    return f"{stack_prefix(stack)}{vault.stamp(moment)}-{run}.json"


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes the document's sha256 is of: sorted keys, no spaces, without the sha256 field itself."""
    unsealed = {key: value for key, value in document.items() if key != "sha256"}
    return json.dumps(unsealed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_text(document: Any) -> str:
    """A document as the files and objects hold it: sorted keys, indented, one final newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class StackFiles:
    """A checkout's project file and one stack file, validated as `plan` validates them."""

    texts: dict[str, str]
    """File name -> its text, exactly as in the checkout."""
    secrets_provider: str
    """The stack file's `secretsprovider`, or DEFAULT_PROVIDER."""


def read_stack_files(stack: str, directory: Path) -> StackFiles:
    """Pulumi.yaml and Pulumi.<stack>.yaml of `directory`; BadInputError (key paths, never values) if the stack
    file is not valid as `plan` reads it or holds a secret that is not `secure:` ciphertext."""
    name = f"Pulumi.{stack}.yaml"
    try:
        project = read_text_bounded(directory / PROJECT_FILE)
        text = read_text_bounded(directory / name)
        config = checked_config(stack, directory, text)
        loaded = load_yaml(text, name)
    except StackFileError as error:
        raise BadInputError(f"{error}; nothing was backed up") from None
    except ConfigError as error:
        raise BadInputError(refusal(Path(name), error, "not backed up")) from None
    clear = (*config.plaintext_secrets, *config.not_ciphertext)
    if clear:
        raise BadInputError(
            f"{name} holds a secret that is not `secure:` ciphertext at {', '.join(dict.fromkeys(clear))}: set it "
            "with `pulumi config set --secret --path`; nothing was backed up"
        )
    provider = loaded.get("secretsprovider") if isinstance(loaded, dict) else None
    return StackFiles({PROJECT_FILE: project, name: text}, str(provider) if provider else DEFAULT_PROVIDER)


def file_entry(text: str) -> dict[str, str]:
    """One file as the document keeps it."""
    return {"sha256": vault.sha256_bytes(text.encode("utf-8")), "text": text}


def context(stack: str, item: Mapping[str, Any]) -> dict[str, str]:
    """The encryption context of a variable's value: its ciphertext decrypts only as that variable of that stack."""
    return {"stack": stack, "key": str(item["key"]), "id": str(item["id"])}


def variable_entry(
    item: Mapping[str, Any], value: str | None, why: str | None, kms: KMSClient, *, key_arn: str, stack: str
) -> dict[str, Any]:
    """One variable as the document keeps it: its value as base64 KMS ciphertext, or null and why."""
    sealed = None
    if value is not None:
        try:
            blob = kms.encrypt(KeyId=key_arn, Plaintext=value.encode("utf-8"), EncryptionContext=context(stack, item))[
                "CiphertextBlob"
            ]
        except (ClientError, BotoCoreError) as error:
            raise JobError(f"cannot encrypt the value of {item['key']} ({item['id']}): {vault.reason(error)}") from None
        sealed = base64.b64encode(blob).decode("ascii")
    target = item.get("target")
    targets = [target] if isinstance(target, str) else sorted(str(t) for t in target or [])
    return {
        "gitBranch": item.get("gitBranch"),
        "id": str(item["id"]),
        "key": str(item["key"]),
        "target": targets,
        "type": str(item.get("type", "")),
        "updatedAt": item.get("updatedAt"),
        "value": sealed,
        "why": why,
    }


def vercel_section(api: VercelApi, kms: KMSClient, *, project_id: str, key_arn: str, stack: str) -> dict[str, Any]:
    """The project's variables, each readable value encrypted under the configuration key as it is read."""
    variables = []
    for item in api.environment_variables(project_id):
        if not isinstance(item.get("id"), str) or not isinstance(item.get("key"), str):
            raise JobError(f"the Vercel API listed a variable of project {project_id} without an id or key")
        value = None if item.get("type") == SENSITIVE else api.environment_value(project_id, item["id"])
        if item.get("type") == SENSITIVE:
            why = "sensitive: Vercel's API never returns its value; set it again from where it came from"
        elif value is None:
            why = "the API returned no value for it"
        elif not value:
            value, why = None, "its value is empty: nothing to keep (KMS encrypts no empty plaintext)"
        elif len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            value, why = None, f"its value is over {MAX_VALUE_BYTES} bytes, more than one KMS Encrypt takes"
        else:
            why = None
        variables.append(variable_entry(item, value, why, kms, key_arn=key_arn, stack=stack))
    variables.sort(key=lambda entry: (entry["key"], entry["id"]))
    return {"kms_key_arn": key_arn, "project_id": project_id, "variables": variables}


def seal(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its sha256."""
    return {**document, "sha256": vault.sha256_bytes(canonical(document))}


@dataclass(frozen=True)
class Written:
    """What a backup run wrote."""

    key: str
    files: tuple[str, ...]
    variables: int
    without_value: tuple[tuple[str, str, str], ...]
    """(key, id, why) of each variable kept without its value."""
    secrets_provider: str
    """The stack file's secrets provider, as the document records it."""


def backup(
    s3: S3Client,
    kms: KMSClient,
    api: VercelApi,
    *,
    bucket: str,
    stack: str,
    directory: Path,
    project_id: str,
    key_arn: str,
) -> Written:
    """Validate the checkout's stack files, check the run's key is new, read and encrypt the Vercel variables, and
    write the one document (If-None-Match: never over another)."""
    files = read_stack_files(stack, directory)
    moment = vault.now()
    key = backup_key(stack, moment, vault.run_id())
    vault.require_new(s3, bucket, key)
    section = vercel_section(api, kms, project_id=project_id, key_arn=key_arn, stack=stack)
    document = seal(
        {
            "files": {name: file_entry(text) for name, text in files.texts.items()},
            "format": FORMAT,
            "secrets_provider": files.secrets_provider,
            "stack": stack,
            "taken_at": moment.isoformat().replace("+00:00", "Z"),
            "vercel": section,
        }
    )
    vault.put_json(s3, bucket, key, document)
    without = tuple((v["key"], v["id"], v["why"]) for v in section["variables"] if v["value"] is None)
    return Written(key, tuple(sorted(files.texts)), len(section["variables"]), without, files.secrets_provider)


def chosen(s3: S3Client, bucket: str, stack: str, wanted: str) -> tuple[str, str]:
    """The backup's key and the version its run wrote: `latest` (the newest one a read finds) or a key."""
    prefix = stack_prefix(stack)
    if wanted != "latest" and not (wanted.startswith(prefix) and wanted.endswith(".json")):
        raise BadInputError(f"--backup must be `latest` or a key under {prefix} ending .json, not {wanted!r}")
    versions = vault.list_versions(s3, bucket, prefix)
    if wanted == "latest":
        candidates = sorted(key for key, found in versions.items() if key.endswith(".json") and vault.visible(found))
        if not candidates:
            raise JobError(f"no configuration backup of stack {stack} in s3://{bucket}/{prefix}")
        wanted = candidates[-1]
    first = vault.first_written(versions.get(wanted, []))
    if first is None:
        raise JobError(f"s3://{bucket}/{wanted} has no stored version")
    return wanted, first.version_id


def verified(document: dict[str, Any], stack: str, where: str) -> dict[str, str]:
    """The document's files by name, once its own sha256 and each file's are what it says; JobError otherwise."""
    if document.get("format") != FORMAT or document.get("stack") != stack:
        raise JobError(f"{where} is not a format-{FORMAT} configuration backup of stack {stack}")
    if document.get("sha256") != vault.sha256_bytes(canonical(document)):
        raise JobError(f"{where}: its sha256 does not match its content (changed since it was written)")
    files = document.get("files")
    vercel = document.get("vercel")
    if not isinstance(files, dict) or not isinstance(vercel, dict) or f"Pulumi.{stack}.yaml" not in files:
        raise JobError(f"{where} holds no stack file or no Vercel inventory")
    texts = {}
    for name, entry in sorted(files.items()):
        text = entry.get("text") if isinstance(entry, dict) else None
        if name not in (PROJECT_FILE, f"Pulumi.{stack}.yaml") or not isinstance(text, str):
            raise JobError(f"{where}: {name} is not a file a configuration backup holds")
        if vault.sha256_bytes(text.encode("utf-8")) != entry.get("sha256"):
            raise JobError(f"{where}: {name} does not match its sha256")
        texts[name] = text
    return texts


def key_in_region(arn: str, region: str) -> str:
    """The ARN of a multi-region key's copy in `region` (its replicas share the key id `mrk-...`)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "kms":
        raise JobError("the backup names no KMS key ARN")
    return ":".join([*parts[:3], region, *parts[4:]])


def check_values(kms: KMSClient, vercel: Mapping[str, Any], *, stack: str, region: str) -> tuple[int, int]:
    """Decrypt every kept value with the configuration key in `region`, keeping nothing: (decrypted, without)."""
    decrypted = without = 0
    for item in vercel.get("variables") or []:
        if item.get("value") is None:
            without += 1
            continue
        key = key_in_region(str(vercel.get("kms_key_arn", "")), region)
        try:
            kms.decrypt(
                CiphertextBlob=base64.b64decode(str(item["value"]), validate=True),
                KeyId=key,
                EncryptionContext=context(stack, item),
            )
        except (binascii.Error, ValueError):
            raise JobError(f"the value of {item.get('key')} ({item.get('id')}) is not base64") from None
        except (ClientError, BotoCoreError) as error:
            raise JobError(
                f"the value of {item.get('key')} ({item.get('id')}) does not decrypt with the configuration key in "
                f"{region}: {vault.reason(error)}"
            ) from None
        decrypted += 1
    return decrypted, without


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    key: str
    version_id: str
    lines: tuple[str, ...]


def restore(
    s3: S3Client, kms: KMSClient, *, bucket: str, stack: str, wanted: str, directory: Path, region: str, overwrite: bool
) -> Restored:
    """Read the chosen backup by version, verify it, validate its stack file as `plan` does, check every value
    decrypts in `region`, then write the files (each whole); nothing is written unless every check passed."""
    # Before anything is read: a target the files cannot land in is the caller's to fix (a file, a read-only place).
    nearest = next(path for path in (directory.absolute(), *directory.absolute().parents) if path.exists())
    if not nearest.is_dir() or not os.access(nearest, os.W_OK | os.X_OK):
        raise BadInputError(f"--to {directory} cannot be written in ({nearest} is not a writable directory)")
    key, version = chosen(s3, bucket, stack, wanted)
    where = f"s3://{bucket}/{key}"
    document = vault.get_json(s3, bucket, key, version)
    texts = verified(document, stack, where)
    name = f"Pulumi.{stack}.yaml"
    try:
        checked_config(stack, directory, texts[name])
    except StackFileError as error:
        raise JobError(f"{where}: {error}") from None
    except ConfigError as error:
        raise JobError(refusal(Path(name), error, "the backed-up stack file is not valid now")) from None
    decrypted, without = check_values(kms, document["vercel"], stack=stack, region=region)
    wanted_files = {name: texts[name], f"vercel-env.{stack}.json": json_text(document["vercel"])}
    if PROJECT_FILE in texts and not (directory / PROJECT_FILE).exists():
        wanted_files[PROJECT_FILE] = texts[PROJECT_FILE]
    plans = {file: _state(directory / file, text) for file, text in wanted_files.items()}
    differing = [file for file, state in plans.items() if state == "differs"]
    if differing and not overwrite:
        raise BadInputError(
            f"{', '.join(str(directory / f) for f in differing)} differ(s) from the backup; --overwrite replaces "
            "them; nothing was written"
        )
    lines = [f"{key} (version {version}): sha256 verified, the stack file valid as `plan` reads it"]
    directory.mkdir(parents=True, exist_ok=True)
    for file, text in sorted(wanted_files.items()):
        if plans[file] == "same":
            lines.append(f"{directory / file} is already as backed up; unchanged")
            continue
        try:
            write_whole(directory / file, text)
        except OSError as error:
            raise JobError(f"{directory / file} cannot be written ({error.strerror or type(error).__name__})") from None
        lines.append(f"wrote {directory / file}")
    if PROJECT_FILE in texts and PROJECT_FILE not in wanted_files:
        same = _state(directory / PROJECT_FILE, texts[PROJECT_FILE]) == "same"
        lines.append(f"{directory / PROJECT_FILE} exists{'' if same else ' and differs from the backup'}; kept")
    lines.append(
        f"{decrypted} Vercel value(s) decrypt with the configuration key in {region}; {without} kept without a value"
    )
    return Restored(key, version, tuple(lines))


def _state(path: Path, text: str) -> str:
    """`absent`, `same` (byte for byte) or `differs`."""
    if not path.exists():
        return "absent"
    try:
        return "same" if path.read_bytes() == text.encode("utf-8") else "differs"
    except OSError as error:
        raise JobError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None


def run_backup(args: argparse.Namespace) -> int:
    written = backup(
        vault.client(),
        kms_client(),
        runbook_cli.vercel(),
        bucket=env("BACKUP_DATABASE_BUCKET"),
        stack=args.stack,
        directory=Path(args.dir),
        project_id=env("VERCEL_PROJECT_ID"),
        key_arn=env("CONFIG_KMS_KEY_ARN"),
    )
    lines = [
        f"wrote s3://{os.environ['BACKUP_DATABASE_BUCKET']}/{written.key}: {', '.join(written.files)} and "
        f"{written.variables} Vercel variable(s), {written.variables - len(written.without_value)} value(s) as KMS "
        "ciphertext",
        *(f"{key} ({env_id}) kept without its value: {why}" for key, env_id, why in written.without_value),
    ]
    print("\n".join(lines))
    if written.secrets_provider == DEFAULT_PROVIDER:
        # Backed up all the same: the settings survive; the secrets' ciphertext only with the backend that made it.
        lines.append(
            f"warning: Pulumi.{args.stack}.yaml's secrets are encrypted by the backend's own provider, so they do not "
            "outlive the backend; move them onto the stack's configuration key once (docs/deploying.md, "
            '"Moving a stack\'s secrets to the multi-region key")'
        )
        print(lines[-1], file=sys.stderr)
    report.summary("\n".join([f"## Configuration backup of {args.stack}", "", *(f"- {line}" for line in lines), ""]))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    restored = restore(
        vault.client(),
        kms_client(),
        bucket=env("BACKUP_DATABASE_BUCKET"),
        stack=args.stack,
        wanted=args.backup,
        directory=Path(args.to),
        region=env("CONFIG_KMS_REGION"),
        overwrite=args.overwrite,
    )
    print("\n".join(restored.lines))
    report.summary(
        "\n".join([f"## Configuration restore of {args.stack}", "", *(f"- {line}" for line in restored.lines)])
    )
    return 0


def register(verbs: Any, stacks: Sequence[str] = STACKS) -> None:
    """Add `config-backup` and `config-restore` to `python -m ops`."""
    backing_up = environment.add_job(
        verbs,
        "config-backup",
        summary="write the stack's Pulumi files and the Vercel project's variables (values as KMS ciphertext) "
        "into the vault's config/ prefix",
        run=run_backup,
        variables=BACKUP_ENV,
    )
    backing_up.add_argument("--stack", required=True, choices=stacks)
    backing_up.add_argument("--dir", default=".", help="the checkout holding Pulumi.yaml and the stack file")
    restoring = environment.add_job(
        verbs,
        "config-restore",
        summary="bring a stack's files back from a configuration backup, checking its values decrypt",
        run=run_restore,
        variables=RESTORE_ENV,
    )
    restoring.add_argument("--stack", required=True, choices=stacks)
    restoring.add_argument(
        "--backup", default="latest", metavar="KEY|latest", help="the backup's key, as config-backup printed it"
    )
    restoring.add_argument("--to", required=True, metavar="DIR", help="the directory the files are written into")
    restoring.add_argument(
        "--overwrite", action="store_true", help="replace a file that differs from the backup (else refused)"
    )
