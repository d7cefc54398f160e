"""`mailbox test`, the out side: connect to the SMTP server as the URL says (implicit TLS,
STARTTLS when offered and required unless ``?tls=none``), log in when the URL names a user,
send nothing."""

from __future__ import annotations

import smtplib
import ssl

from sync_server.mail.config import Endpoint


def check_login(endpoint: Endpoint, password: str, timeout_s: float = 15.0) -> str:
    """One line saying what works; raises OSError/smtplib.SMTPException saying what not."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if endpoint.tls == "implicit":
        smtp = smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=timeout_s,
                                context=context)
    else:
        smtp = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout_s)
    try:
        smtp.ehlo()
        secured = endpoint.tls == "implicit"
        if endpoint.tls != "implicit" and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            secured = True
        if endpoint.tls == "starttls" and not secured:
            raise smtplib.SMTPException(f"{endpoint.site} does not offer STARTTLS (required; "
                                        "add ?tls=none only for a local test server)")
        if endpoint.user:
            smtp.login(endpoint.user, password)
        who = f"logged in as {endpoint.user}" if endpoint.user else "no login asked"
        return f"SMTP {endpoint.site}: connected{' with TLS' if secured else ''}, {who}"
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
