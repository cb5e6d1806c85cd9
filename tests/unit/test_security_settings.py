"""Credentials from the environment: per-service database URLs, password files, Kafka SASL/TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import SASLScram256, SASLScram512

from shared.kafka_acl import ACCESS, INTEGRATION, grants
from shared.kafka_security import KafkaSecurity
from shared.settings import Settings, database_url, load_local_credentials

BASE = "postgresql://billing@db:5432/billing"


def test_the_service_url_and_its_own_password_win(tmp_path: Path):
    secret = tmp_path / "pw"
    secret.write_text("s3cr/t@:%\n")
    env = {"DATABASE_URL": BASE, "DATABASE_PASSWORD": "admin",
           "RATING_DATABASE_URL": "postgresql://rating@db:5432/billing",
           "RATING_DATABASE_PASSWORD_FILE": str(secret)}
    assert database_url("rating", env) == "postgresql://rating:s3cr%2Ft%40%3A%25@db:5432/billing"
    # another service falls back to the shared URL with the shared password
    assert database_url("invoicing", env) == "postgresql://billing:admin@db:5432/billing"
    assert Settings.from_env("rating").database_url  # the real environment parses too


@pytest.mark.parametrize("env, expected", [
    ({}, "postgresql://billing@127.0.0.1:55432/billing"),
    ({"DATABASE_URL": BASE, "DATABASE_USER": "rating"}, "postgresql://rating@db:5432/billing"),
    ({"DATABASE_URL": "postgresql://u:old@db/b", "DATABASE_PASSWORD": "new"}, "postgresql://u:new@db/b"),
    ({"DATABASE_URL": "postgresql://db/b", "DATABASE_USER": "ü", "DATABASE_PASSWORD": "p w"},
     "postgresql://%C3%BC:p%20w@db/b"),
])
def test_user_and_password_given_apart_replace_the_urls(env, expected):
    assert database_url("", env) == expected


def test_an_unreadable_password_file_is_named():
    with pytest.raises(ValueError, match="DATABASE_PASSWORD_FILE='/nonexistent/pw' cannot be read"):
        database_url("", {"DATABASE_PASSWORD_FILE": "/nonexistent/pw"})


def test_kafka_defaults_to_plaintext():
    security = KafkaSecurity.from_env({})
    assert security.aiokafka() == {"security_protocol": "PLAINTEXT"}
    assert security.faststream() is None


def test_sasl_scram_for_every_client(tmp_path: Path):
    secret = tmp_path / "kafka"
    secret.write_text("pw\n")
    env = {"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_USERNAME": "rating",
           "KAFKA_SASL_PASSWORD_FILE": str(secret)}
    security = KafkaSecurity.from_env(env)
    assert security.aiokafka() == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                   "sasl_plain_username": "rating", "sasl_plain_password": "pw"}
    assert isinstance(security.faststream(), SASLScram512)
    assert security.librdkafka()["sasl.username"] == "rating"
    scram256 = KafkaSecurity.from_env({**env, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"})
    assert isinstance(scram256.faststream(), SASLScram256)


def test_sasl_ssl_verifies_the_broker():
    security = KafkaSecurity.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u",
                                       "KAFKA_SASL_PASSWORD": "p"})
    context = security.aiokafka()["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert security.faststream().use_ssl


@pytest.mark.parametrize("env, message", [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL"}, "KAFKA_SECURITY_PROTOCOL must be one of"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "needs KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "p"}, "needs KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "GSSAPI\u0000",
      "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM must be one of"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/c.pem"}, "go together"),
])
def test_bad_kafka_settings_are_named(env, message):
    with pytest.raises(ValueError, match=message):
        KafkaSecurity.from_env(env)


def test_local_credentials_only_when_the_environment_names_no_platform(tmp_path: Path):
    (tmp_path / "var/secrets").mkdir(parents=True)
    (tmp_path / "var/secrets/admin.env").write_text("# comment\nKAFKA_SASL_USERNAME=admin\nDATABASE_URL=x\n")
    env: dict[str, str] = {"DATABASE_URL": "mine"}
    assert load_local_credentials(tmp_path, env) is None and env == {"DATABASE_URL": "mine"}
    env = {"KAFKA_SASL_USERNAME": "me"}
    assert load_local_credentials(tmp_path, env)
    assert env == {"KAFKA_SASL_USERNAME": "me", "DATABASE_URL": "x"}


def test_acls_give_each_principal_only_its_own_topics():
    rating = {(g.operation, g.name) for g in grants("rating", "t1_")}
    assert ("WRITE", "t1_rating.charges") in rating and ("READ", "t1_rating.requests") in rating
    assert ("READ", "t1_rating") in rating and ("WRITE", "t1_rating.dead-letter") in rating
    assert ("READ", "t1_rating.redrive") in rating  # a redriven dead letter comes back to rating alone
    # its charges, its refusals of facts it cannot place (unknown accounts, parts), the usage its
    # POST /v1/usage accepts, its own topics
    assert not {name for op, name in rating if op == "WRITE"} - {"t1_rating.charges", "t1_platform.rejections",
                                                                  "t1_usage.records",
                                                                  "t1_rating.dead-letter", "t1_rating.redrive"}
    writes = {g.name for g in grants(INTEGRATION) if g.operation == "WRITE"}
    assert writes == {"usage.records", "platform.users"}
    assert not any(g.operation == "READ" for g in grants(INTEGRATION))
    assert all(g.operation in {"READ", "WRITE", "DESCRIBE", "IDEMPOTENT_WRITE"} for p in ACCESS for g in grants(p))


def test_each_service_may_use_the_topics_its_code_uses():
    """Its subscriptions and outbox writes (found in its source) are within its ACLs."""
    import re

    from contracts import topics

    root = Path(__file__).resolve().parents[2] / "services"
    for app in root.glob("*/app.py"):
        service = app.parent.name
        source = "\n".join(p.read_text() for p in app.parent.rglob("*.py"))
        consumed = set(re.findall(r"subscribe(?:_batch)?\((\w+)", source))
        produced = set(re.findall(r"(?:settings|runtime)\.topic\((\w+)", source))
        access = ACCESS[service]
        assert {getattr(topics, n) for n in consumed} <= set(access.consumes), service
        assert {getattr(topics, n) for n in produced} <= set(access.produces), service


def test_a_principal_writes_only_topics_the_registry_names_it_a_producer_of():
    from contracts import topics

    assert {p for p, a in ACCESS.items() if topics.RATING_CHARGES in a.produces} == {"rating"}
    for principal, access in ACCESS.items():
        for topic in access.produces:
            named = "platform integrations" if principal == INTEGRATION else principal
            assert named in topic.producers, f"{principal} may not produce {topic.name}"


def test_role_env_gives_a_service_its_role_only_where_its_password_exists(tmp_path: Path):
    from shared.settings import role_env

    (tmp_path / "postgres-rating.password").write_text("pw")
    env = role_env("postgresql://billing:admin@db:5432/billing", tmp_path, ["rating", "invoicing"])
    assert env == {"RATING_DATABASE_URL": "postgresql://rating@db:5432/billing",
                   "RATING_DATABASE_PASSWORD_FILE": str(tmp_path / "postgres-rating.password")}
    assert role_env("postgresql://billing@db/billing", None, ["rating"]) == {}
