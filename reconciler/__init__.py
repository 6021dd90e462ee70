"""reconciler: config-as-code for the EMR side of Ocean integrations."""

__version__ = "0.1.0"
