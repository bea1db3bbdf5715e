"""Every answer under the remote-content prefix is problem+json, whoever produced it."""

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse

from ioportal.remotecontent.io_views import PROBLEM_TYPE, problem

# Where `io_urls` is included (ioportal/urls.py).
PATH_PREFIX = "/io/remote-content/"

Handler = Callable[[HttpRequest], HttpResponse]


class RemoteContentProblemMiddleware:
    """IO reads the endpoints' errors as RFC 7807 problems (io-spec, ProblemJson): an unknown
    path (404), a method other than GET (405, its Allow header kept), a refused request
    (400) or a failure (500) answered by Django's own handlers as HTML is answered again as
    application/problem+json with the same status. Never stored by a cache."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PATH_PREFIX):
            return response
        if response.status_code >= 400 and response.get("Content-Type") != PROBLEM_TYPE:
            status = HTTPStatus(response.status_code)
            replaced = problem(status.value, status.phrase, status.description)
            if "Allow" in response:
                replaced["Allow"] = response["Allow"]
            response = replaced
        response["Cache-Control"] = "no-store"
        return response
