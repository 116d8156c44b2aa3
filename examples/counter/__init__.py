"""A ``counter`` stream incremented by an http step (used to measure concurrent increments)."""
