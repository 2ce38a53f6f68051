"""Encoding data: the registry of encodings and the loading of their vocabulary files."""
