"""The ASGI application a project's asgi.py makes (steps.application)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_started_application_is_kept_out_of_the_garbage_collector_s_sight() -> None:
    # Its full collections scanned every module, model and URL pattern: pauses of 30-94 ms
    # under load. Made in a process of its own: freezing is for the whole process.
    program = (
        "import gc\n"
        "from motia_site.asgi import application\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "CELERY_BROKER_URL": "memory://", "STEPS_EMBEDDED_BEAT": "0"},
        check=True,
    )
    frozen, tracked = map(int, result.stdout.split()[-2:])
    assert frozen > 50_000  # the application's objects
    assert tracked < frozen / 10  # what the collector still looks at
