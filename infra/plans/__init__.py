"""The plans layer: one stack's recorded plan as text, `pulumi preview --json` and a dependency graph."""
