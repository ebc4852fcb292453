"""What the whole test run made the services write (logs and traces) holds no sign-in code, link token, session
token, password or child's name. Named to run after the other system tests, so it reads what all of them
caused: thousands of sign-ins, invitations, resets, PEPs and emails. The mail sink's own log is the stand-in
for an SMTP server outside our system, so it is not ours to check."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import RunningSystem
from tests.support.mailbox import CODE

PASSWORDS = ("demo-pass-2026", "kettle-orbit-tangerine-59", "lantern-meadow-copper-41", "harbour-velvet-quartz-73",
             "a long and unusual passphrase")
# Eight digits (or four, a space, four) standing alone: how a code would be written if one were logged.
WHOLE_CODE = re.compile(r"(?<![0-9A-Za-z.])(\d{8}|\d{4} \d{4})(?![0-9A-Za-z])")
LINK_TOKEN = re.compile(r"/(?:invitations|reset-password|register|your-views)/([A-Za-z0-9_\-]{20,})")


def written(system: RunningSystem) -> dict[Path, str]:
    files = [*(system.local.var / "log").glob("*.log"), *(system.local.var / "traces").glob("**/*")]
    return {f: f.read_text(errors="replace") for f in files if f.is_file() and not f.name.startswith("mailsink")}


def test_no_code_token_password_or_childs_name_reaches_a_log_or_trace(system: RunningSystem) -> None:
    session = system.sign_in("caseworker@demo.test").split("=", 1)[1]  # one more, so one token is surely there
    secrets: dict[str, str] = {session: "a session token"}
    for msg in system.mailbox.messages():
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        for code in CODE.findall(text):
            secrets[code] = "a sign-in code"
            secrets[code.replace(" ", "")] = "a sign-in code"
        for token in LINK_TOKEN.findall(text):
            secrets[token] = "a link token"
    for password in PASSWORDS:
        secrets[password] = "a password"
    for row in system.admin_sql("SELECT given_name, family_name FROM pep.children"):
        secrets[f"{row['given_name']} {row['family_name']}"] = "a child's name"
        if len(row["family_name"]) >= 10:  # the tests' made-up family names are unique words
            secrets[row["family_name"]] = "a child's family name"
    codes = sum(kind == "a sign-in code" for kind in secrets.values()) // 2
    names = sum(kind.startswith("a child") for kind in secrets.values())
    assert codes >= 50 and names >= 20, (codes, names)  # the run really made plenty to leak

    files = written(system)
    assert sum(len(t) for t in files.values()) > 100_000  # the services really wrote things
    # A code is eight digits: looked for as a whole token, since longer runs of digits (a duration's decimals, a
    # trace or span id's hex) hold any eight digits by chance once the logs are large; the rest are long and unique.
    whole_codes = {path: set(WHOLE_CODE.findall(text)) for path, text in files.items()}
    found = [f"{kind} in {path.name}" for path, text in files.items() for secret, kind in secrets.items()
             if (secret in whole_codes[path] if kind == "a sign-in code" else secret in text)]
    print(f"log scan: {len(files)} files, {sum(t.count(chr(10)) for t in files.values())} lines, "
          f"{len(secrets)} secrets looked for ({codes} codes, {names} children's names)")
    assert found == [], sorted(set(found))[:50]
