"""aiosmtpd handlers for the email tests (started by rapport_testkit::smtp, never by hand)."""

from aiosmtpd.handlers import Mailbox


class RefusingMailbox(Mailbox):
    """A Maildir that refuses two recipients: one permanently (550), one for now (451)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "permanent@refuse.test":
            return "550 5.1.1 <permanent@refuse.test>: no such user"
        if address == "transient@refuse.test":
            return "451 4.3.0 <transient@refuse.test>: mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
