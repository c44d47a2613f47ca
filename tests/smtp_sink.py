"""A real SMTP server for the tests (aiosmtpd), storing every accepted message in a Maildir.

Policy, so tests can provoke failures: recipients at refused.test get a permanent 550,
recipients at tempfail.test a transient 451. Everything else is accepted.
Usage: smtp_sink.py PORT MAILDIR
"""

import asyncio
import mailbox
import signal
import sys

from aiosmtpd.controller import Controller


class MaildirSink:
    def __init__(self, path):
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rsplit("@", 1)[-1].lower()
        if domain == "refused.test":
            return "550 5.1.1 Recipient refused by policy"
        if domain == "tempfail.test":
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.maildir.add(envelope.original_content)
        return "250 Message accepted for delivery"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(MaildirSink(path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.new_event_loop()
    signal.signal(signal.SIGTERM, lambda *_: stop.call_soon_threadsafe(stop.stop))
    signal.signal(signal.SIGINT, lambda *_: stop.call_soon_threadsafe(stop.stop))
    stop.run_forever()
    controller.stop()


if __name__ == "__main__":
    main()
