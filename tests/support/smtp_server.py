"""Test SMTP server for Tallyman's mail tests (aiosmtpd, loopback only).

Prints the listening port on stdout, then serves until stdin closes or it is killed.
Every DATA command is logged to DIR/data.log ("<answer> <first rcpt> tls|plain"); accepted messages are
saved as DIR/msg-<n>.eml (written to a temp name, then renamed).

Options: --dir DIR (required), --port P (0 = ephemeral), --fail-451 N (answer 451 to the
first N DATA commands), --fail-550 (answer 550 to every DATA), --tls CERT KEY (offer STARTTLS;
without it STARTTLS is not offered), --implicit (with --tls: implicit TLS, no STARTTLS), --auth USER PASS (require AUTH with these
credentials; plain connections allowed, for loopback tests only; each AUTH is logged to DIR/auth.log as
"<tls|plain> <ok|refused>").
"""
import argparse
import logging
import os
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, folder, fail_451, fail_550):
        self.folder = folder
        self.fail_451 = fail_451
        self.fail_550 = fail_550
        self.data_commands = 0
        self.saved = 0
        self.lock = threading.Lock()

    def log(self, answer, server, envelope):
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else "-"
        # After STARTTLS and with implicit TLS alike, the transport carries an SSL object.
        tls = "tls" if server.transport.get_extra_info("ssl_object") is not None else "plain"
        with open(os.path.join(self.folder, "data.log"), "a") as f:
            f.write(f"{answer} {rcpt} {tls}\n")

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            n = self.data_commands
        if self.fail_550:
            self.log("550", server, envelope)
            return "550 5.7.1 Recipient refused by test policy"
        if n <= self.fail_451:
            self.log("451", server, envelope)
            return "451 4.3.0 Try again later (test)"
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with self.lock:
            self.saved += 1
            name = f"msg-{self.saved}.eml"
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.folder, name))
        self.log("250", server, envelope)
        return "250 OK"


class BoundController(Controller):
    """A Controller serving on a socket bound before start, so port 0 works without races."""

    def __init__(self, handler, sock, **kwargs):
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-451", type=int, default=0)
    p.add_argument("--fail-550", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit", action="store_true", help="with --tls: TLS from the first byte")
    p.add_argument("--auth", nargs=2, metavar=("USER", "PASS"), help="require AUTH with these")
    args = p.parse_args()
    # Failed handshakes are part of the tests; keep their tracebacks out of the test output.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(16)

    kwargs = {}
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        kwargs["ssl_context" if args.implicit else "tls_context"] = ctx
    if args.auth:
        user, password = args.auth[0].encode(), args.auth[1].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
            # Every AUTH the client sent, and whether the connection was encrypted then.
            tls = "tls" if server.transport.get_extra_info("ssl_object") is not None else "plain"
            with open(os.path.join(args.dir, "auth.log"), "a") as f:
                f.write(f"{tls} {'ok' if ok else 'refused'}\n")
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    handler = Handler(args.dir, args.fail_451, args.fail_550)
    controller = BoundController(handler, sock, **kwargs)
    controller.start()
    print(sock.getsockname()[1], flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
