"""Motia 1.0.0-1.0.2 style: ctx.state and ctx.logger, awaited in an async handler."""

from motia import FlowContext, http

config = {"name": "GetProfile", "triggers": [http("GET", "/profiles/:id")], "flows": ["people"]}


async def handler(request, ctx: FlowContext):
    profile = await ctx.state.get("profiles", request.path_params["id"])
    ctx.logger.info("profile read", {"found": profile is not None})
    if profile is None:
        return {"status": 404, "body": {"error": "no profile"}}
    return {"status": 200, "body": {"profile": profile}}
