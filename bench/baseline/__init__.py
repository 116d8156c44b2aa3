"""A bare Django project, the floor of a Django write: writes.py's baseline (see views.py)."""
