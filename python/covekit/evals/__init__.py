"""Evaluation: retrieval metrics and benchmark loaders."""
