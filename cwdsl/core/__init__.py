"""Shared utilities every layer may use: errors with spans, atomic writes, network
descriptions, tables, progress bars, figures."""
