"""Tests of the Pulumi program, its settings, the offline engine and the policy pack."""
