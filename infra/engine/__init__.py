"""The engine layer: runs the unchanged program under Pulumi's mock runtime and the policy pack over its record."""
