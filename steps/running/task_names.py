"""The names the step tasks are registered under.

A Celery message names the task it runs, so whoever sends one (the sending thread, beat's
schedule) needs only the name: it never imports the tasks, which import the engine.
"""

RUN_STEP = "steps.run_step"
RUN_STEP_BATCH = "steps.run_step_batch"
STORE_DEAD_LETTER = "steps.store_dead_letter"
