"""Standardized compression: scopes resolved per architecture, pruning, quantization, pipelines."""
