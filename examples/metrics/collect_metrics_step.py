"""A cron step: every 15 seconds, publish the server's load and memory to the ``metrics``
stream (the Node example of Motia's streaming guide watches
``metrics``/``system-metrics``)."""

import os
import resource
import socket
from datetime import UTC, datetime
from typing import Any

config = {
    "name": "CollectSystemMetrics",
    "description": "Publish load average and memory use every 15 seconds.",
    "triggers": [{"type": "cron", "expression": "*/15 * * * * *"}],
    "flows": ["system"],
}


def handler(input: Any, ctx: Any) -> None:
    load1, load5, load15 = os.getloadavg()
    ctx.streams.metrics.set(
        "system-metrics",
        socket.gethostname(),
        {
            "collectedAt": datetime.now(UTC).isoformat(),
            "load": [load1, load5, load15],
            "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        },
    )
