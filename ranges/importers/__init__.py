"""Importers of standard data files, one module per format, registered by name."""
