"""The child's and carer's views by secure invitation. The inviter's half is forwarded like any PEP call; the
invited person's half has no session: the emailed link's token, then the emailed code, then a views session
(its token in the `epep_views` cookie the portal keeps for the views pages only), each passed to pep in the body,
never in a URL, so no log or trace holds them."""

from __future__ import annotations

from aiohttp import web

from services.gateway.bound import answers
from services.gateway.handlers import CLIENTS, GATEWAY, client_address
from shared.api import views as api
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.web import REQUEST_ID, json_model, parse_body

VIEWS_COOKIE = "epep_views"

def _as_gateway(request: web.Request) -> Claims:
    return Claims(sub=GATEWAY.sub, address=client_address(request))


async def _pep(request: web.Request, method: str, path: str, body: dict[str, object]) -> object:
    return await request.app[CLIENTS]["pep"].call(method, path, _as_gateway(request), json_body=body,
                                                  request_id=request[REQUEST_ID])


def _session(request: web.Request) -> str:
    token = request.cookies.get(VIEWS_COOKIE, "")
    if not 20 <= len(token) <= 100:
        raise Problem(401, "Enter a new code to carry on", "Open the link in your email again.",
                      code="views_session_ended")
    return token


@answers(api.OPEN_VIEWS_LINK)
async def open_link(request: web.Request) -> web.Response:
    body = await parse_body(request, api.ViewsOpen)
    result = await _pep(request, "POST", "/views/open", {"token": body.token})
    return json_model(api.ViewsCodeSent.model_validate(result), status=202)


@answers(api.VERIFY_VIEWS_CODE)
async def verify(request: web.Request) -> web.Response:
    body = await parse_body(request, api.ViewsVerify)
    result = await _pep(request, "POST", "/views/verify", {"token": body.token, "code": body.code})
    return json_model(api.ViewsSession.model_validate(result))


@answers(api.GET_VIEWS_FORM)
async def read_form(request: web.Request) -> web.Response:
    result = await _pep(request, "POST", "/views/form", {"session_token": _session(request)})
    return json_model(api.ViewsForm.model_validate(result))


@answers(api.SAVE_VIEWS_FORM)
async def save_form(request: web.Request) -> web.Response:
    session = _session(request)
    body = await parse_body(request, api.ViewsSave)
    result = await _pep(request, "PUT", "/views/form", {"session_token": session, "answers": body.answers})
    return json_model(api.ViewsForm.model_validate(result))


@answers(api.CHECK_VIEWS_LINK)
async def check_link(request: web.Request) -> web.Response:
    """The link is being opened: whether it still works, with nothing sent (pep answers 404 if it does not)."""
    body = await parse_body(request, api.ViewsOpen)
    await _pep(request, "POST", "/views/check", {"token": body.token})
    return web.Response(status=204)


@answers(api.END_VIEWS_SESSION)
async def end_session(request: web.Request) -> web.Response:
    """I have finished: the session ends on the server, so the cookie replayed opens nothing."""
    await _pep(request, "POST", "/views/end", {"session_token": _session(request)})
    return web.Response(status=204)
