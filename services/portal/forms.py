"""What people type, checked before the gateway is asked, with GOV.UK-style error messages.

Pure functions: each returns the cleaned value and the errors as {field id: message}, in page order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
    elif len(form.email) > 320 or not EMAIL_SHAPE.match(form.email):
        form.errors["email"] = "Enter an email address in the correct format, like name@example.com"
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


def error_summary_items(errors: dict[str, str]) -> list[dict[str, str]]:
    """The error summary's list: each message links to the field it belongs to."""
    return [{"text": message, "href": f"#{field_id}"} for field_id, message in errors.items()]
