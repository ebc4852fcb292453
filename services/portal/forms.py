"""What people type, checked before the gateway is asked, with GOV.UK-style error messages.

Pure functions: each returns the cleaned value and the errors as {field id: message}, in page order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.api.identity import email_error

CODE_LENGTH = 8


@dataclass
class SignInForm:
    email: str = ""
    password: str = field(default="", repr=False)
    errors: dict[str, str] = field(default_factory=dict)


def check_sign_in(email: str, password: str) -> SignInForm:
    form = SignInForm(email=email.strip(), password=password)
    if not form.email:
        form.errors["email"] = "Enter your email address"
    elif error := email_error(form.email):
        form.errors["email"] = error
    if not password:
        form.errors["password"] = "Enter your password"
    elif len(password) > 1024:
        form.errors["password"] = "Password must be 1024 characters or fewer"
    return form


@dataclass
class CodeForm:
    entered: str = ""
    code: str = ""  # digits only, when valid
    errors: dict[str, str] = field(default_factory=dict)


def check_code(entered: str) -> CodeForm:
    """The emailed code is shown as `1234 5678`; accept it with or without spaces or a dash."""
    form = CodeForm(entered=entered.strip())
    digits = re.sub(r"[\s-]", "", form.entered)
    if not digits:
        form.errors["code"] = "Enter the code from the email"
    elif not digits.isascii() or not digits.isdigit():
        form.errors["code"] = "The code must only include numbers 0 to 9"
    elif len(digits) != CODE_LENGTH:
        form.errors["code"] = f"The code must be {CODE_LENGTH} digits, like 1234 5678"
    else:
        form.code = digits
    return form


@dataclass(frozen=True)
class DateField:
    """One GOV.UK date input (day, month and year boxes) on a form: the names of its boxes come from here, for
    the template (`items`) and for the handler (`read`), so the two cannot disagree. They once did: the delegate
    form rendered `due-day` while its handler read `due.day`, and the date typed was silently dropped.

    The boxes are named `<name>.day`, `<name>.month`, `<name>.year`; the first box's id is `id` (or `<name>`),
    where the error summary's link for the field goes, the others `<id>-month` and `<id>-year`."""

    name: str
    id: str = ""
    PARTS = ("day", "month", "year")
    WIDTHS = {"day": "govuk-input--width-2", "month": "govuk-input--width-2", "year": "govuk-input--width-4"}

    def box(self, part: str) -> str:
        """The name of one box, as the browser posts it."""
        return f"{self.name}.{part}"

    def read(self, data: Any) -> dict[str, str]:
        """What was typed in the three boxes, {box name: text}: the form's `values` for them."""
        return {self.box(part): str(data.get(self.box(part), "")).strip() for part in self.PARTS}

    def typed(self, values: Any) -> tuple[str, str, str]:
        day, month, year = (str(values.get(self.box(part), "") or "") for part in self.PARTS)
        return day, month, year

    def values_for(self, day: Any, month: Any, year: Any) -> dict[str, str]:
        """The boxes filled in from a date already known."""
        return {self.box("day"): str(day), self.box("month"): str(month), self.box("year"): str(year)}

    def items(self, values: Any, error: Any = None) -> list[dict[str, str]]:
        """govukDateInput's `items`, each with its full name (no `namePrefix`, whose `-` the handler never reads)."""
        marked = " govuk-input--error" if error else ""
        first = self.id or self.name
        return [{"id": first if part == "day" else f"{first}-{part}", "name": self.box(part),
                 "label": part.capitalize(), "value": str((values or {}).get(self.box(part), "") or ""),
                 "classes": self.WIDTHS[part] + marked} for part in self.PARTS]


def error_summary_items(errors: dict[str, str]) -> list[dict[str, str]]:
    """The error summary's list: each message links to the field it belongs to."""
    return [{"text": message, "href": f"#{field_id}"} for field_id, message in errors.items()]


# ---- the other journeys' forms ------------------------------------------------------------------------

MAX_NAME = 100
MAX_PASSWORD = 1024
URN_SHAPE = re.compile(r"^\d{6,7}$")


@dataclass
class Form:
    """What was typed (passwords never kept) and what is wrong with it, {field id: message} in page order."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def merge_gateway_errors(self, field_errors: dict[str, str]) -> bool:
        """Add the gateway's field errors for fields this form has, in page order; False if none fit."""
        fitting = {k: v for k, v in field_errors.items() if k in self.values}
        if not fitting:
            return False
        merged = {**self.errors, **fitting}
        self.errors = {k: merged[k] for k in self.values if k in merged}
        return True


def _clean(data: Any, *names: str) -> dict[str, str]:
    return {name: str(data.get(name, "")).strip() for name in names}


def _email_error(value: str, empty: str) -> str | None:
    return email_error(value, empty)


def _name_error(value: str, empty: str, what: str) -> str | None:
    if not value:
        return empty
    if len(value) > MAX_NAME:
        return f"{what} must be {MAX_NAME} characters or fewer"
    return None


def _password_error(value: str, empty: str) -> str | None:
    if not value:
        return empty
    if len(value) > MAX_PASSWORD:
        return f"Password must be {MAX_PASSWORD} characters or fewer"
    return None


def _collect(form: Form, checks: dict[str, str | None]) -> Form:
    form.errors = {name: message for name, message in checks.items() if message}
    return form


def check_registration(data: Any) -> tuple[Form, str]:
    """Given name, family name, email, password. The password's rules are the gateway's (one policy)."""
    form = Form(_clean(data, "given_name", "family_name", "email"))
    form.values["password"] = ""
    password = str(data.get("password", ""))
    _collect(form, {
        "given_name": _name_error(form.values["given_name"], "Enter your given name", "Given name"),
        "family_name": _name_error(form.values["family_name"], "Enter your family name", "Family name"),
        "email": _email_error(form.values["email"], "Enter your email address"),
        "password": _password_error(password, "Enter a password"),
    })
    return form, password


def check_email(data: Any, name: str = "email", empty: str = "Enter your email address") -> Form:
    form = Form(_clean(data, name))
    return _collect(form, {name: _email_error(form.values[name], empty)})


def check_reset(data: Any) -> tuple[Form, CodeForm, str]:
    """The emailed code and the new password, on one page."""
    code = check_code(str(data.get("code", "")))
    password = str(data.get("new_password", ""))
    form = Form({"code": code.entered, "new_password": ""})
    _collect(form, {"code": code.errors.get("code"),
                    "new_password": _password_error(password, "Enter a new password")})
    return form, code, password


def check_password_change(data: Any) -> tuple[Form, str, str]:
    current, new = str(data.get("current_password", "")), str(data.get("new_password", ""))
    form = Form({"current_password": "", "new_password": ""})
    _collect(form, {"current_password": _password_error(current, "Enter your current password"),
                    "new_password": _password_error(new, "Enter a new password")})
    if not form.errors and current == new:
        form.errors["new_password"] = "Your new password must be different from your current password"
    return form, current, new


def check_email_change(data: Any, current_email: str) -> tuple[Form, str]:
    form = Form(_clean(data, "new_email"))
    form.values["password"] = ""
    password = str(data.get("password", ""))
    email_error = _email_error(form.values["new_email"], "Enter your new email address")
    if not email_error and form.values["new_email"].casefold() == current_email.casefold():
        email_error = "Enter an email address that is different from your current one"
    _collect(form, {"new_email": email_error, "password": _password_error(password, "Enter your password")})
    return form, password


def check_invitation(data: Any, allowed_roles: list[str]) -> Form:
    form = Form(_clean(data, "given_name", "family_name", "email", "role"))
    role = form.values["role"]
    _collect(form, {
        "given_name": _name_error(form.values["given_name"], "Enter their given name", "Given name"),
        "family_name": _name_error(form.values["family_name"], "Enter their family name", "Family name"),
        "email": _email_error(form.values["email"], "Enter their email address"),
        "role": None if role in allowed_roles else "Select a role",
    })
    return form


SETTING_FIELDS = ("name", "setting_type", "urn", "phase", "address")


def check_setting(data: Any, setting_types: Iterable[str], phases: Iterable[str]) -> Form:
    """An education setting's details. The URN (the DfE's unique reference number) is optional."""
    form = Form(_clean(data, *SETTING_FIELDS))
    values = form.values
    values["urn"] = re.sub(r"\s", "", values["urn"])
    name = values["name"]
    _collect(form, {
        "name": "Enter the name of the setting" if not name else (
            "The name must be 200 characters or fewer" if len(name) > 200 else None),
        "setting_type": None if values["setting_type"] in setting_types else "Select the type of setting",
        "urn": None if not values["urn"] or URN_SHAPE.match(values["urn"]) else "The URN must be 6 or 7 digits",
        "phase": None if values["phase"] in phases else "Select the phase of education",
        "address": "The address must be 500 characters or fewer" if len(values["address"]) > 500 else None,
    })
    return form


def setting_body(form: Form) -> dict[str, str | None]:
    """The gateway's body for a setting: an empty URN or address is sent as none."""
    return {name: (form.values[name] or None) for name in SETTING_FIELDS}


ALL_SECTIONS = "all"


ALL_CHILDREN = "all"


def check_access(data: Any, section_keys: Iterable[str]) -> tuple[Form, list[str] | None]:
    """Which PEP sections a member of staff may see: the ticked ones, or all (None), which also covers sections
    added later. "All" wins if someone (without JavaScript) ticks it and some sections too."""
    keys = list(section_keys)
    getall = getattr(data, "getall", None)
    ticked_raw = {str(t) for t in (getall("sections", []) if getall else data.get("sections", []))}
    ticked = [k for k in keys if k in ticked_raw]
    if ALL_SECTIONS in ticked_raw:
        return Form({"sections": ALL_SECTIONS}), None
    form = Form({"sections": ",".join(ticked)})
    if not ticked:
        form.errors["sections"] = "Select the sections they can see, or all sections"
    return form, ticked


def check_children(data: Any, child_ids: Iterable[str]) -> tuple[Form, list[str] | None]:
    """Which of the setting's children a member of staff may see: all (None), which also covers children who
    join later, or the ticked ones. Ids that are not the setting's children are ignored; "all" wins."""
    getall = getattr(data, "getall", None)
    ticked_raw = {str(t) for t in (getall("children", []) if getall else data.get("children", []))}
    if ALL_CHILDREN in ticked_raw:
        return Form({"children": ALL_CHILDREN}), None
    ticked = [c for c in child_ids if c in ticked_raw]
    form = Form({"children": ",".join(ticked)})
    if not ticked:
        form.errors["children"] = "Select the children they can see, or all children"
    return form, ticked


def local_path(referer: str, host: str) -> str | None:
    """The path (and query) of a Referer on this same site, to go back to; None for anywhere else."""
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != host or not parts.path.startswith("/"):
        return None
    if parts.path.startswith("//") or "\\" in parts.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
