"""Notifications: custom events sent to a group, and an announcement of every todo change."""
