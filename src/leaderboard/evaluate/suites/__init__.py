"""One module per evaluation suite (see ``evaluate/spec.py`` for what a module declares)."""
