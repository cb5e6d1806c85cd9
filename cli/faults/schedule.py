"""The fault schedule a seed draws: which faults, in which order, at which pass of their point."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from cli.ops import SERVICES

# every service that consumes Kafka: each fault runs them all, and each is killed around its commit
KILLED = SERVICES


@dataclass(frozen=True)
class Fault:
    """One fault: `kind` is `kill` (BILLING_FAULT=<service>:<point>:<n>), `kafka-restart`,
    `postgres-restart` (mid-run), `group-reset` (a service's consumer group back to offset 0
    after the run) or `poison` (an undecodable record on every consumed topic). A kill with
    `phase` "disputes" is armed only once the run settled (the service restarted with it), so
    its n counts the passes while the disputes are paid, opened and resolved."""

    name: str
    kind: str
    service: str = ""
    point: str = ""
    n: int = 0
    phase: str = ""

    @property
    def env(self) -> str:
        return f"{self.service}:{self.point}:{self.n}"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}


def catalogue(rng: random.Random) -> list[Fault]:
    """Every fault of the suite, with its pass count drawn from `rng` (small enough to fire)."""
    faults = []
    for service in KILLED:
        for point in ("before-commit", "after-commit"):
            # consumers take batches: a few passes in all, so the first two always come
            faults.append(Fault(f"kill-{service}-{point}", "kill", service, point, rng.randint(1, 2)))
    # mid-run: rating among its chunks (of 4 accounts), invoicing among the batches of invoices
    faults.append(Fault("kill-rating-mid-run", "kill", "rating", "run-chunk", rng.randint(2, 4)))
    faults.append(Fault("kill-invoicing-mid-run", "kill", "invoicing", "invoices-issued", rng.randint(1, 2)))
    for service in ("rating", "invoicing"):  # mid-relay: published, rows not yet deleted
        faults.append(Fault(f"kill-{service}-mid-relay", "kill", service, "relay-published", rng.randint(1, 3)))
    # while disputes are resolved: invoicing issues credit notes and refunds from disputes.events,
    # disputes applies the resolutions sent on disputes.commands (and sees invoicing.events pass)
    faults.append(Fault("kill-invoicing-mid-disputes", "kill", "invoicing", "after-commit", rng.randint(2, 6),
                        "disputes"))
    faults.append(Fault("kill-disputes-mid-disputes", "kill", "disputes", "after-commit", rng.randint(1, 3),
                        "disputes"))
    faults.append(Fault("kafka-restart", "kafka-restart"))
    faults.append(Fault("postgres-restart", "postgres-restart"))
    faults.append(Fault("group-reset", "group-reset", rng.choice(KILLED)))
    faults.append(Fault("poison", "poison"))
    return faults


def draw(seed: int, only: list[str] | None = None, infra_faults: bool = True) -> list[Fault]:
    """The seed's schedule: the catalogue (or the faults named in `only`, by name or kind) in a
    seeded order; without `infra_faults` (infrastructure shared with others) no restarts."""
    rng = random.Random(seed)
    faults = catalogue(rng)
    if only:
        faults = [f for f in faults if f.name in only or f.kind in only]
    if not infra_faults:
        faults = [f for f in faults if not f.kind.endswith("-restart")]
    rng.shuffle(faults)
    return faults
