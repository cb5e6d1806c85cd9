"""The portal's settings: the APIs it calls, its secrets file, session lifetime, payment details."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import Settings, SettingsError

HTTP_PORT = 8080
ROOT = Path(__file__).resolve().parents[2]

# the platform's HTTP APIs the portal calls, and their local default addresses (README)
API_PORTS = {"provisioning": 8001, "auto_provisioning": 8002, "rating": 8003, "prepaid_credit": 8004,
             "invoicing": 8005, "disputes": 8006}


@dataclass(frozen=True)
class PortalSettings:
    """What the portal needs beyond a service's settings (`base`: database, schema, host, port)."""

    base: Settings
    # service name -> base URL, from `<SERVICE>_URL` (the CLI's variables too)
    apis: dict[str, str] = field(default_factory=dict)
    # the session-signing and token-encryption keys (services/portal/vault.py), made on first use
    secrets_file: Path = ROOT / "var" / "secrets" / "portal.json"
    session_hours: float = 8.0
    # Secure cookies: on behind TLS; off only for plain http on loopback (`make up`)
    secure_cookies: bool = False
    api_timeout_s: float = 15.0
    # how to pay by bank transfer (shown on every invoice; the reference is the invoice number)
    bank_payee: str = "Billing Platform Ltd"
    bank_iban: str = "DE89 3704 0044 0532 0130 00"
    bank_bic: str = "COBADEFFXXX"

    @classmethod
    def from_env(cls) -> "PortalSettings":
        env = os.environ
        var = Path(env.get("BILLING_VAR") or ROOT / "var")
        return cls(
            base=Settings.from_env("portal", HTTP_PORT),
            apis={name: env.get(f"{name.upper()}_URL", f"http://127.0.0.1:{port}").rstrip("/")
                  for name, port in API_PORTS.items()},
            secrets_file=Path(env.get("PORTAL_SECRETS_FILE") or var / "secrets" / "portal.json"),
            session_hours=_hours(env.get("PORTAL_SESSION_HOURS") or "8"),
            secure_cookies=env.get("PORTAL_SECURE_COOKIES", "") in ("1", "true", "yes"),
            bank_payee=env.get("PORTAL_BANK_PAYEE") or cls.bank_payee,
            bank_iban=env.get("PORTAL_BANK_IBAN") or cls.bank_iban,
            bank_bic=env.get("PORTAL_BANK_BIC") or cls.bank_bic,
        )


def _hours(raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        hours = 0
    if not 0 < hours <= 24 * 30:
        raise SettingsError(f"PORTAL_SESSION_HOURS must be a number of hours above 0 and at most 720, got {raw!r}")
    return hours
