"""A stream and a step for the replay tests' servers (loaded by ``tests.replay_settings``)."""
