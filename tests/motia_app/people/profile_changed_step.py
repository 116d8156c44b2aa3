"""A state trigger: every change of a profile runs it, and it records what changed."""

from motia import StateTriggerInput, Stream, state

changes = Stream("profile_changes")

config = {
    "name": "ProfileChanged",
    "triggers": [state(condition=lambda input, ctx: input.group_id == "profiles")],
    "flows": ["people"],
}


def handler(input: StateTriggerInput) -> None:
    # By profile and kind of change: runs of two changes may run in any order.
    changes.set(
        input.item_id, input["event_type"], {"old": input.old_value, "new": input.new_value}
    )
