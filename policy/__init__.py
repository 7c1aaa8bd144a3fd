"""VibeLog's CrossGuard policy pack: one module of rules per domain, the registry they declare into (`registry`),
the pack that collects them (`pack`) and the entry point the Pulumi CLI runs (`__main__`)."""
