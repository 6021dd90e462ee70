"""One package per EMR, each behind :mod:`reconciler.emr.contract`, found through
:mod:`reconciler.emr.registry`."""
