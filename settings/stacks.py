"""The project's stacks, one `Pulumi.<stack>.yaml` each: a leaf module, so a verb can name them without the SDK."""

STACKS = ("development", "staging", "production")
