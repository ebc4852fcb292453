"""Reading what the development mail sink stored in its Maildir."""

from __future__ import annotations

import email
import email.policy
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

CODE = re.compile(r"\b(\d{4} \d{4})\b")


@dataclass
class Mailbox:
    maildir: Path
    # A delivered message's file never changes: each is parsed once, however often a test looks (a run's mailbox
    # holds thousands, and waiting for an email looks many times a second).
    _parsed: dict[Path, tuple[float, str, EmailMessage]] = field(default_factory=dict, repr=False)

    def _read(self, path: Path) -> tuple[float, str, EmailMessage]:
        known = self._parsed.get(path)
        if known is None:
            mtime = path.stat().st_mtime
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            known = self._parsed[path] = (mtime, str(msg["To"]).lower(), msg)
        return known

    def messages(self, to: str | None = None, since: float = 0.0) -> list[EmailMessage]:
        found: list[tuple[float, EmailMessage]] = []
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if not folder.exists():
                continue
            for path in folder.iterdir():
                try:
                    mtime, recipient, msg = self._read(path)
                except FileNotFoundError:  # moved from new/ to cur/ while we looked: found there
                    continue
                if mtime < since:
                    continue
                if to is None or recipient == to.lower():
                    found.append((mtime, msg))
        return [m for _, m in sorted(found, key=lambda item: item[0])]

    def codes(self, to: str, since: float = 0.0) -> list[str]:
        codes = []
        for msg in self.messages(to, since):
            body = msg.get_body(preferencelist=("plain",))
            match = CODE.search(body.get_content() if body else "")
            if match:
                codes.append(match.group(1))
        return codes

    def wait_for_code(self, email_address: str, since: float, timeout: float = 20.0, count: int = 1) -> str:
        """The latest code sent to this address after `since`, once at least `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = self.codes(email_address, since)
            if len(codes) >= count:
                return codes[-1]
            time.sleep(0.05)
        raise TimeoutError(f"no sign-in code for {email_address} within {timeout}s")
