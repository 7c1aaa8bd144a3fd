"""Markers in `plan --json` that readers of it share; no imports, so a reader of plans need not load Pulumi."""

SECRET_TEXT = "[secret]"  # noqa: S105 - the mask, not a secret
# pulumi.runtime.rpc.UNKNOWN: what `pulumi preview --json` writes for a value known only after apply.
UNKNOWN_TEXT = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# A key only one `infra diff` run knows (it hands it to the two plans it compares), so that the plans can say
# whether a secret changed without saying what it is. Without it, `plan --json` prints no fingerprints: a fixed
# key would let anyone holding the output test guesses of a low-entropy secret.
FINGERPRINT_KEY_ENV = "VIBELOG_PLAN_FINGERPRINT_KEY"
