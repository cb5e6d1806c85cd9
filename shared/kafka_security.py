"""How every Kafka client of the platform authenticates: SASL and TLS settings from the environment."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import secret

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """A client's security protocol, SASL credentials and TLS files (all optional: PLAINTEXT)."""

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.sasl:
            if self.mechanism not in MECHANISMS:
                raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, "
                                 f"got {self.mechanism!r}")
            if not self.username or not self.password:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and "
                                 "KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "KafkaSecurity":
        env = os.environ if env is None else env
        return cls(
            protocol=env.get("KAFKA_SECURITY_PROTOCOL", "").upper() or "PLAINTEXT",
            mechanism=env.get("KAFKA_SASL_MECHANISM", "").upper() or "SCRAM-SHA-512",
            username=env.get("KAFKA_SASL_USERNAME", ""),
            password=secret(env, "KAFKA_SASL_PASSWORD"),
            ca_file=env.get("KAFKA_SSL_CA_FILE", ""),
            cert_file=env.get("KAFKA_SSL_CERT_FILE", ""),
            key_file=env.get("KAFKA_SSL_KEY_FILE", ""),
        )

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context (the system's CAs, or KAFKA_SSL_CA_FILE), with the client
        certificate for mutual TLS when one is given; None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        return options

    def faststream(self) -> BaseSecurity | None:
        """The FastStream security object for KafkaBroker(security=...)."""
        context = self.ssl_context()
        if self.sasl:
            kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
            return kind[self.mechanism](self.username, self.password, ssl_context=context, use_ssl=self.tls)
        if self.tls:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        return None

    def librdkafka(self) -> dict[str, str]:
        """Configuration for confluent-kafka's AdminClient (used for users and ACLs)."""
        config = {"security.protocol": self.protocol.lower()}
        if self.sasl:
            config.update({"sasl.mechanism": self.mechanism, "sasl.username": self.username,
                           "sasl.password": self.password})
        if self.ca_file:
            config["ssl.ca.location"] = self.ca_file
        if self.cert_file:
            config.update({"ssl.certificate.location": self.cert_file, "ssl.key.location": self.key_file})
        return config


def client_options() -> dict[str, Any]:
    """aiokafka keyword arguments for this process's credentials (KAFKA_SECURITY_PROTOCOL...)."""
    return KafkaSecurity.from_env().aiokafka()
