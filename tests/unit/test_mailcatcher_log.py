"""The mail catcher logs no recipient's address: aiosmtpd's INFO lines on `mail.log` carry
every SMTP command, `RCPT TO:<address>` among them (personal data in logs)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import pytest

from services.notification.adapters.mailcatcher import MailCatcher
from tests.ports import on_a_port


def test_a_message_received_leaves_no_address_in_the_log(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # as `yrkesresan mailcatcher` logs: INFO and up
    catcher = on_a_port(lambda port: MailCatcher(smtp_port=port, http_port=None).start())
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "noreply@yrkesresan.example", "anna.andersson@falun.example.se", "Kallelse")
        message.set_content("Hej")
        with smtplib.SMTP(catcher.host, catcher.smtp_port, timeout=30) as smtp:
            smtp.send_message(message)
        assert [m.rcpt_tos for m in catcher.mailbox.messages()] == [
            ("anna.andersson@falun.example.se",)]
    finally:
        catcher.stop()
    assert "anna.andersson" not in caplog.text
    assert logging.getLogger("mail.log").getEffectiveLevel() >= logging.WARNING
