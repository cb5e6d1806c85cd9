"""`billing access kafka`: the Kafka principals of the services and integrations, and their ACLs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cli.ops import SERVICES
from shared.kafka_acl import ACCESS, INTEGRATION, apply, grants, prune
from shared.kafka_security import KafkaSecurity
from shared.settings import DEFAULT_KAFKA


def _principals(args: argparse.Namespace) -> list[str]:
    return list(args.principal or (*SERVICES, INTEGRATION))


def _kafka(args: argparse.Namespace) -> int:
    principals = _principals(args)
    passwords = {}
    if args.secrets:
        for principal in principals:
            path = Path(args.secrets) / f"kafka-{principal}.password"
            if not path.exists():
                print(f"error: {path} missing (deploy/local/infra.sh up makes it)")
                return 2
            passwords[principal] = path.read_text().strip()
    config = {"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
              **KafkaSecurity.from_env().librdkafka()}
    apply(config, principals, args.prefix, passwords)
    for removed in prune(config, principals, args.prefix):
        print(f"removed the stale ACL {removed}")
    for principal in principals:
        print(f"User:{principal}: {len(grants(principal, args.prefix))} ACLs"
              + (", SCRAM-SHA-512 password set" if principal in passwords else ""))
    return 0


def _show(args: argparse.Namespace) -> int:
    for principal in _principals(args):
        for g in grants(principal, args.prefix):
            print(f"User:{principal}\t{g.operation}\t{g.resource}\t{g.name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    access = sub.add_parser("access", help="Kafka principals and ACLs (run with the admin principal)")
    verbs = access.add_subparsers(dest="verb", required=True)
    for name, func, text in (("kafka", _kafka, "create or update the principals' passwords and ACLs"),
                             ("show", _show, "print the ACLs each principal gets")):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("--principal", action="append", choices=sorted(ACCESS),
                          help="one principal (repeatable); default: every service of this checkout "
                          "and 'integration'")
        verb.add_argument("--prefix", default=os.environ.get("BILLING_TOPIC_PREFIX", ""),
                          help="topic and group prefix the ACLs name (a namespace)")
        if name == "kafka":
            verb.add_argument("--secrets", help="folder with kafka-<principal>.password files: sets "
                              "those passwords (SCRAM-SHA-512)")
        verb.set_defaults(func=func)
