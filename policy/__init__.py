"""VibeLog's CrossGuard policy pack: the rules (`policy.rules`) and the pack that the Pulumi CLI runs (`__main__`)."""
