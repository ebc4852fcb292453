"""Every form the portal draws, posted as a browser would: each value typed or chosen reaches the gateway.

The forms are found by drawing every page (tests/portal/test_every_page_escapes.py's walk of the route table) and
reading their <form>s with an HTML parser, so a form's field names are the ones its template rendered, never ones
this test knows. Each input is filled with a value of its own, the form is posted, and the change the gateway was
asked for must carry every value: the delegate form's due date (once silently dropped) is the first case.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
from tests.portal.fake_gateway import FakeGateway
from tests.portal.test_every_page_escapes import escaped_once, page_urls
from tests.portal.world import ID, world_answers, write_answers


@dataclass
class Form:
    action: str
    enctype: str = ""
    inputs: list[dict[str, Any]] = field(default_factory=list)  # {tag, type, name, value, checked, options}
    found_on: str = ""


class Forms(HTMLParser):
    """The page's POST forms and their fields, as a browser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._field: dict[str, Any] | None = None  # the <select> or <textarea> being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(action=a.get("action", ""), enctype=a.get("enctype", ""))
        if self._form is None:
            return
        if tag == "input":
            self._form.inputs.append({"tag": "input", "type": a.get("type", "text").lower(), "name": a.get("name", ""),
                                      "value": a.get("value", ""), "checked": "checked" in a,
                                      "inputmode": a.get("inputmode", "")})
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._form.inputs.append({"tag": "button", "type": "submit", "name": a.get("name", ""),
                                      "value": a.get("value", "")})
        elif tag in ("select", "textarea"):
            self._field = {"tag": tag, "type": tag, "name": a.get("name", ""), "value": "", "options": []}
            self._form.inputs.append(self._field)
        elif tag == "option" and self._field is not None:
            self._field["options"].append(a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._field is not None and self._field["tag"] == "textarea":
            self._field["value"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("select", "textarea"):
            self._field = None
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def forms_on(html: str) -> list[Form]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


# Boxes whose text has a shape: (what to type, how it reaches the gateway).
SPECIAL = {"academic_year": ("2031/32", "2031/32"), "keep_until_age": ("41", "41"),
           "term_periods": ("Autumn 2031, 3 September 2031, 19 December 2031", "2031-09-03"),
           "inset_days": ("5 January 2032", "2032-01-05"), "termly_deadlines": ("Spring 2032, 19 March 2032",
                                                                                   "2032-03-19")}


def typed(name: str, inputmode: str, n: int) -> tuple[str, str]:
    """(what to type in this box, how it should reach the gateway)."""
    if "email" in name:
        return f"typed{n}@example.test", f"typed{n}@example.test"
    if "password" in name:
        return f"Typed-password-{n}-qx", f"Typed-password-{n}-qx"
    if name == "code":
        return "1234 5678", "12345678|1234 5678"  # sent with or without its space
    if name in SPECIAL:
        return SPECIAL[name]
    if name == "urn":
        return "1234567", "1234567"
    if inputmode in ("numeric", "decimal") or name in ("days", "tray_days", "keep_until_age"):
        return str(20 + n), str(20 + n)
    return f"Typed {n}", f"Typed {n}"


def fill(form: Form) -> tuple[FormData | dict[str, Any], list[str]]:
    """The form filled in as a person would, and the values the gateway should be asked to store."""
    data: list[tuple[str, str]] = []
    expected: list[str] = []
    dates: dict[str, dict[str, str]] = {}
    radios: dict[str, str] = {}
    n = 0
    submitted = False
    files: list[str] = []
    for i in form.inputs:
        name, kind = i["name"], i["type"]
        if kind == "file":
            files.append(name)
            continue
        if not name or kind in ("reset", "image"):
            continue
        if kind == "submit":
            if not submitted and not any(b["type"] == "submit" and not b["name"] for b in form.inputs):
                data.append((name, i["value"]))
            submitted = True
        elif kind == "hidden":
            data.append((name, i["value"]))
        elif kind == "checkbox":
            if i["value"] != "all":
                data.append((name, i["value"]))
                expected.append(i["value"])
        elif kind == "radio":
            if name not in radios or (radios[name] == "" and not i["checked"]):
                radios[name] = "" if i["checked"] else i["value"]  # the first choice not already chosen
        elif kind == "select":
            options = [o for o in i["options"] if o]
            if options:
                data.append((name, options[-1]))
                expected.append(options[-1])
        elif (part := re.fullmatch(r"(.+)\.(day|month|year)", name)) is not None:
            dates.setdefault(part.group(1), {})[part.group(2)] = name
        else:
            n += 1
            value, sent = typed(name, i.get("inputmode", ""), n)
            data.append((name, value))
            expected.append(sent)
    for name, value in radios.items():
        if value:
            data.append((name, value))
            expected.append(value)
    for prefix, boxes in dates.items():
        year = "2015" if "birth" in prefix else "2031"
        day, month = "27", "3"
        data += [(boxes["day"], day), (boxes["month"], month), (boxes["year"], year)]
        expected.append(f"{year}-03-27")
    if form.enctype == "multipart/form-data" or files:
        multipart = FormData()
        for k, v in data:
            multipart.add_field(k, v)
        for name in files:
            multipart.add_field(name, b"typed-file-content", filename="typed-file.txt", content_type="text/plain")
        # A form with a file sends the file: its content (an import) or its name (an upload) must arrive, and a
        # box beside it (the CSV pasted instead of a file) may be ignored.
        return multipart, ["typed-file-content|typed-file.txt"] + [e for e in expected if not e.startswith("Typed")]
    return FormData(data), expected


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeGateway]]:
    (tmp_path / "portal.css").write_text("")
    fake = FakeGateway()
    for (method, path), body in world_answers().items():
        fake.answer(method, path, 200, body)
    for (method, path), (status, body) in write_answers().items():
        fake.answer(method, path, status, body)
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            client.session.cookie_jar.update_cookies({"epep_session": "session-token", "epep_views": "v" * 43})
            yield client, fake


# Forms whose values are not a change the gateway stores, or that this world cannot post: (action pattern, why).
# The stand-in gateway sets no session cookie, so signing in ends "unavailable" after the code reached it.
NO_COOKIE = {"/sign-in/code"}
NOT_STORED = {
    r"/sign-out": "signs out: nothing typed",
    r"/session/extend": "keeps the session: nothing typed",
}


def written(fake: FakeGateway, since: int) -> str:
    """Every change the gateway was asked for since call number `since`, as one JSON text to look in."""
    return json.dumps([[m, p, b] for m, p, b, _ in fake.calls[since:] if m != "GET" or p == "/invitations/lookup"],
                      ensure_ascii=False)


async def test_every_form_posts_every_value_to_the_gateway(portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    to_visit = page_urls(client.server.app)
    visited: set[str] = set()
    posted: dict[str, str] = {}  # action -> page it was found on
    failures: list[str] = []
    while to_visit:
        url = to_visit.pop(0)
        if url in visited:
            continue
        visited.add(url)
        resp = await client.get(url, allow_redirects=False)
        if resp.status != 200 or "text/html" not in resp.headers.get("Content-Type", ""):
            continue
        html = await resp.text()
        if wrong := [w for w in escaped_once(html) if not w.startswith("the text is not")]:
            failures.append(f"{url}: {wrong}")
        pending = [(form, url) for form in forms_on(html)]
        while pending:
            form, found_on = pending.pop(0)
            action = (form.action or found_on).split("#")[0]
            if action in posted or any(re.fullmatch(p, action) for p in NOT_STORED):
                continue
            posted[action] = found_on
            data, expected = fill(form)
            since = len(fake.calls)
            answer = await client.post(action, data=data, allow_redirects=False)
            sent = written(fake, since)
            missing = [v for v in expected
                       if not any(json.dumps(one, ensure_ascii=False).strip('"') in sent for one in v.split("|"))]
            if (answer.status >= 500 and action not in NO_COOKIE) or missing:
                failures.append(f"{action} (from {found_on}): status {answer.status}, did not reach the gateway: "
                                f"{missing} in {sent[:400]}")
            if answer.status in (302, 303) and (where := answer.headers.get("Location", "")).startswith("/"):
                to_visit.append(where)  # a journey's next page (a code page) has forms of its own
            elif answer.status == 200 and "text/html" in answer.headers.get("Content-Type", ""):
                pending += [(f, action) for f in forms_on(await answer.text())]  # a page drawn in answer
    post_routes = {r.resource.canonical for r in client.server.app.router.routes() if r.method == "POST"}
    not_reached = sorted(p for p in post_routes
                         if not any(re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", p), a.split("?")[0]) for a in posted))
    print("forms posted:", len(posted), "POST routes without a form reached:", not_reached)
    assert not failures, "\n".join(failures)


async def test_the_due_date_typed_on_the_delegate_form_is_the_tasks_due_date(
        portal: tuple[TestClient, FakeGateway]) -> None:
    client, fake = portal
    html = await (await client.get(f"/peps/{ID}/delegate")).text()
    (form,) = [f for f in forms_on(html) if f.action == f"/peps/{ID}/delegate"]
    boxes = [i["name"] for i in form.inputs if i["type"] == "text" and i["name"].startswith("due")]
    data = {i["name"]: i["value"] for i in form.inputs if i["type"] == "hidden"}
    data |= dict(zip(boxes, ("27", "3", "2031"), strict=True)) | {"sections": "learning"}
    answer = await client.post(form.action, data=data, allow_redirects=False)
    assert answer.status == 303
    (asked,) = fake.asked("POST", f"/peps/{ID}/delegations")
    assert asked["due_date"] == "2031-03-27"
