"""OSCAR / OSCAR Pro adapters: ``sql`` reads and writes the OSCAR database."""
