"""Evaluations: LAMA fact probing and the lm-eval bridge."""
