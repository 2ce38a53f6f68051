"""Observability: traces of requests as plain data (spans named after OpenTelemetry's
GenAI semantic conventions), for a trace store and exporters to build on."""
