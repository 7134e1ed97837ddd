"""One module per compression method (see ``compress/spec.py`` for what a module declares)."""
