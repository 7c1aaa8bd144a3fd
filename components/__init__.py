"""One ComponentResource per capability of a VibeLog environment."""
