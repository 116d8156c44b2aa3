"""The live demo page: the todo list and parallel merge of Motia's streaming guide, drawn from
their streams."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from streams.sockets import page_token


def demo(request: HttpRequest) -> HttpResponse:
    """The page calls the example steps and shows what their streams then push."""
    return render(request, "examples/demo.html", {"stream_token": page_token(request)})
