"""A step file written against Motia's API: ``motia`` is the engine's, from its wheel."""

from motia import ApiRequest, ApiResponse, http, logger

config = {"name": "HelloMotia", "triggers": [http("GET", "/hello-motia")]}


def handler(request: ApiRequest) -> ApiResponse:
    logger.info("hello from a Motia file")
    return ApiResponse(status=200, body={"hello": request.query_params.get("name", "world")})
