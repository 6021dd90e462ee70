"""Simulators of the systems reconciler talks to, for demos and tests on one machine."""
