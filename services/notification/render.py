"""A draft as an e-mail: plain Swedish text, and one calendar file per course day.

The Message-ID is derived from the notice's key, so that should a message ever go out twice
(the process stopped between the server's acceptance and recording it as sent), mail
clients see the same message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from services.notification.calendar import calendar_file
from services.notification.messages import SIGNATURE, Draft


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@yrkesresan>"


def email_of(draft: Draft, to: str, name: str | None, mail_from: str, key: str,
             now: dt.datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(now.astimezone(dt.UTC))
    msg["Message-ID"] = message_id(key)
    msg["Content-Language"] = "sv"
    greeting = f"Hej {name}!\n\n" if name else ""
    signature = "" if draft.body.rstrip().endswith(SIGNATURE) else f"\n\n{SIGNATURE}\n"
    msg.set_content(f"{greeting}{draft.body}{signature}", charset="utf-8")
    organizer = parseaddr(mail_from)[1]
    for entry in draft.entries:
        msg.add_attachment(calendar_file(entry, organizer, to, now), maintype="text",
                           subtype="calendar", filename=entry.filename,
                           params={"method": entry.method, "charset": "utf-8"})
    return msg
