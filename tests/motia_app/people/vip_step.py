"""An http condition (a false one answers 422, as Motia's engine does) and middleware (the
first runs first; one refuses, one adds a header to the handler's ApiResponse)."""

from motia import ApiRequest, ApiResponse, FlowContext, http


def big_spender(request: ApiRequest, ctx: FlowContext) -> bool:
    return isinstance(request, ApiRequest) and (request.body or {}).get("amount", 0) > 100


async def require_key(request, ctx, next_fn):
    if request.headers.get("X-Api-Key") != "open-sesame":
        return {"status": 401, "body": {"error": "Unauthorized"}}
    ctx.user = {"id": "u-1"}
    return await next_fn()


async def stamp(request, ctx, next_fn):
    response = await next_fn()
    return ApiResponse(
        status=response.status,
        body=response.body,
        headers={**response.headers, "X-Stamped": ctx.trace_id},
    )


config = {
    "name": "Vip",
    "triggers": [http("POST", "/vip", condition=big_spender, middleware=[require_key, stamp])],
}


async def handler(request, ctx):
    return ApiResponse(
        status=200, body={"welcome": ctx.user["id"], "amount": request.body["amount"]}
    )
