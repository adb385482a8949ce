# What both client scripts stand on: the arguments every test passes
# (mode, port, CA file, the certificate's name) and Python's mail clients
# connecting to 127.0.0.1 from 127.0.0.2, so that the backend can tell the
# client's address from its own. The scripts are this file followed by
# their own (see mod.rs).
import base64, imaplib, poplib, smtplib, socket, ssl, sys

mode, port, cafile, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)


def conn(timeout=None):
    return socket.create_connection(("127.0.0.1", port), timeout or 20, source_address=("127.0.0.2", 0))


class IMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return conn(timeout)


class IMAPS(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(conn(timeout), server_hostname=self.host)


class POP(poplib.POP3):
    def _create_socket(self, timeout):
        return conn(timeout)


class POPS(poplib.POP3_SSL):
    def _create_socket(self, timeout):
        return self.context.wrap_socket(conn(timeout), server_hostname=self.host)


class SMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return conn(timeout)


class SMTPS(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(conn(timeout), server_hostname=self._host)
