"""The diffs layer: two plans compared (a revision against the working tree, a stack against another)."""
