"""Why the service could not reach the cluster, in one line naming the setting to fix.

kafka-python retries a failed connection until its request timeout and then
reports only "Unable to bootstrap"; the cause (credentials refused, mechanism
not offered, certificate not trusted) is in a warning of its connection layer.
``watch_connections`` keeps the last such causes while the service starts, and
``explain`` turns it into a message.  Passwords never appear in it.
"""

from __future__ import annotations

import collections
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import SaslAuthenticationFailedError, UnsupportedSaslMechanismError

from detector.settings import KafkaSettings


class ConnectionErrors(logging.Handler):
    """Keeps the exceptions of the last connection failures kafka-python logged."""

    def __init__(self, keep: int = 20) -> None:
        super().__init__(logging.WARNING)
        self.errors: collections.deque[BaseException] = collections.deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.errors.extend(a for a in args if isinstance(a, BaseException))

    def explain(self, k: KafkaSettings) -> str | None:
        """The latest failure a setting explains (later ones may be timeouts)."""
        for error in reversed(self.errors):
            why = explain(error, k)
            if why is not None:
                return why
        return None


@contextmanager
def watch_connections() -> Iterator[ConnectionErrors]:
    logger = logging.getLogger("kafka.net")
    handler = ConnectionErrors()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def explain(error: BaseException | None, k: KafkaSettings) -> str | None:
    """A message naming the setting behind a refused connection, or None if the
    cause is not one a setting explains (the broker down, the network)."""
    servers = k.bootstrap_servers
    if isinstance(error, UnsupportedSaslMechanismError):
        return (f"kafka.sasl_mechanism: the broker at {servers} does not accept "
                f"{k.sasl_mechanism} (or no SASL on this listener; see "
                f"kafka.security_protocol)")
    # Apache Kafka answers bad credentials with SASL_AUTHENTICATION_FAILED; a broker
    # that sends a SCRAM server error instead ("e=unknown-user") makes kafka-python's
    # SCRAM client fail on the missing server signature.
    if k.security_protocol.startswith("SASL") and isinstance(
            error, SaslAuthenticationFailedError | KeyError | ValueError):
        return (f"kafka.sasl_username: the broker at {servers} refused {k.sasl_mechanism} "
                f"authentication as {k.sasl_username!r}; check the user, "
                f"kafka.sasl_password (or kafka.sasl_password_file) and kafka.sasl_mechanism")
    # kafka-python wraps a failed TLS handshake in KafkaConnectionError, keeping
    # OpenSSL's words in the text.
    text = str(error)
    if isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.rpartition("certificate verify failed:")[2].split("(_ssl")[0].strip()
        return (f"kafka.ssl_cafile: the certificate of the broker at {servers} is not "
                f"trusted ({reason or 'verify failed'}); kafka.ssl_cafile must name the CA "
                f"that signed it")
    if isinstance(error, ssl.SSLError) or "Handshake failed" in text:
        return (f"kafka.security_protocol: the TLS handshake with {servers} failed "
                f"({text}); does that listener speak TLS?")
    return None
