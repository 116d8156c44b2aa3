"""A cron step that records the server's metrics in the ``metrics`` stream."""
