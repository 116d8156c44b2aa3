"""A cron step of 6 fields (seconds first): every second; its handler takes ``input: None``."""

from motia import cron, stateManager

config = {"name": "Pulse", "triggers": [cron("* * * * * *")]}


def handler(input: None) -> None:
    stateManager.update("pulse", "beats", [{"type": "increment", "path": "count", "by": 1}])
