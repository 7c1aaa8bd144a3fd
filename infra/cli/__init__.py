"""The CLI layer: each verb is argparse, a few calls into the layers below, and an exit code."""
