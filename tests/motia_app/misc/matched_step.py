"""Motia 1.0.4's ctx.match in a plain handler, its sub-handlers plain (http and cron)."""

from motia import ApiResponse, Stream, cron, http, step

counters = Stream("counters")


def handle(input, ctx):
    def on_http(request):
        counters.update(
            "hits",
            request.path_params["id"],
            [
                {"type": "increment", "path": "stats.views", "by": 1},
                {
                    "type": "append",
                    "path": ["log", "who"],
                    "value": request.query_params.get("who"),
                },
            ],
        )
        return ApiResponse(status=200, body=counters.get("hits", request.path_params["id"]))

    def on_cron():
        pass

    return ctx.match({"http": on_http, "cron": on_cron})


config = step(
    {
        "name": "Matched",
        "triggers": [http("POST", "/hits/:id"), cron("0 0 0 1 1 * 2099")],
        "input": "ignored: not a key of Motia's step config",
    },
    handle,
)
