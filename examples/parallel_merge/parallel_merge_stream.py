"""The ``parallelMerge`` stream of Motia's streaming guide: progress of a fan-out of parallel
steps."""

from pydantic import BaseModel

from streams import StreamConfig


class ParallelMerge(BaseModel):
    startedAt: float
    totalSteps: int
    completedSteps: int


config = StreamConfig(
    name="parallelMerge", schema=ParallelMerge, base_config={"storage_type": "default"}
)
