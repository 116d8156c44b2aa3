"""A step made with multi_trigger_step, its handlers chained, exposed under a name of its own
(no ``config``/``handler``): http and queue."""

from motia import enqueue, http, multi_trigger_step, queue, stateManager

config_of_multi = {
    "name": "Multi",
    "triggers": [http("POST", "/multi"), queue("multi.again")],
    "enqueues": ["multi.again"],
}


def on_http(request, ctx):
    enqueue({"topic": "multi.again", "data": {"from": ctx.trigger.type}})
    return {"status": 202, "body": {"queued": True, "trigger": ctx.trigger.path}}


def on_queue(data, ctx):
    stateManager.set("multi", "last", {"data": data, "topic": ctx.trigger.topic})


multi = multi_trigger_step(config_of_multi).on_http(on_http).on_queue(on_queue).handlers()
