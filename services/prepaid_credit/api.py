"""prepaid_credit's HTTP routes: vouchers, redemptions, credit history; refusals as 4xx with a reason."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, model_validator

from contracts.types import Amount, Id, Instant
from services.prepaid_credit import queries, vouchers
from shared import auth, http, task_failures
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# the operator everything; a partner its own vouchers and its tree's accounts
PARTNER = Depends(auth.allow("partner"))
# a voucher code as typed: the domain decides whether it is one (`invalid_voucher`)
Code = Annotated[str, Field(min_length=1, max_length=64, examples=["4CTXK9MWQH7A"])]


class VoucherBatchIn(BaseModel):
    """`count` generated codes, or the given `codes` (vouchers sold elsewhere), each worth
    `credits` for `lifetime_days` days from its redemption's day."""

    count: int | None = Field(default=None, ge=1, le=vouchers.MAX_BATCH)
    codes: list[Code] | None = Field(default=None, min_length=1, max_length=vouchers.MAX_BATCH)
    credits: Amount = Field(examples=["500.00"])
    lifetime_days: int = Field(ge=1, le=36_500, examples=[60])
    issuer: Id | None = Field(default=None, description="operator only: the partner account issuing them")

    @model_validator(mode="after")
    def _one_of(self) -> "VoucherBatchIn":
        if (self.count is None) == (self.codes is None):
            raise ValueError("give either `count` or `codes`")
        return self


class RedemptionIn(BaseModel):
    code: Code
    at: Instant | None = Field(default=None, description="operator only (replays): when it was redeemed, "
                                                         "not in the future; default now")


class VoucherBatchOut(http.ResponseModel):
    """The issued batch (services/prepaid_credit/vouchers.py `issue`)."""

    batch_id: str
    issuer: str | None = Field(description="the partner account that issued them; null: the operator")
    credits: str = Field(description="each voucher's credits, a decimal as text", examples=["500.00"])
    lifetime_days: int
    issued_at: str = Field(description="ISO 8601 instant")
    codes: list[str] = Field(description="the batch's codes")


class VoucherOut(http.ResponseModel):
    """A voucher and its state (services/prepaid_credit/vouchers.py `voucher_json`)."""

    code: str
    batch_id: str
    issuer: str | None = Field(description="the partner account that issued it; null: the operator")
    credits: str = Field(description="a decimal as text", examples=["500.00"])
    lifetime_days: int
    issued_at: str = Field(description="ISO 8601 instant")
    state: Literal["issued", "redeemed"]
    redeemed_by: str | None = Field(description="the account that redeemed it; null while `issued`")
    redeemed_at: str | None = Field(description="ISO 8601 instant; null while `issued`")


class DrawOut(http.ResponseModel):
    """What one entry took from one lot."""

    lot: str = Field(description="the lot (its voucher's code)")
    amount: str = Field(description="credits drawn, a decimal as text")


class EntryOut(http.ResponseModel):
    """One ledger entry (services/prepaid_credit/ledger.py `entry_json`)."""

    sequence: int
    at: str = Field(description="ISO 8601 instant")
    kind: Literal["redeemed", "usage", "recurring", "expired", "shortfall_settled"]
    amount: str = Field(description="the signed change to the balance, a decimal as text")
    balance: str = Field(description="the balance after it, a decimal as text")
    shortfall: str = Field(description="the part of a debit that could not be drawn, a decimal as text")
    ref: str = Field(description="what it was for: a voucher code, a lot, a usage or recurring line")
    draws: list[DrawOut] = Field(description="the lots it drew from")


class RedemptionOut(http.ResponseModel):
    """The redemption's lot and the account's credit after it (services/prepaid_credit/ledger.py `redeem`)."""

    account_id: str
    voucher: str = Field(description="the voucher's code (also the new lot's)")
    credits: str = Field(description="a decimal as text")
    redeemed_at: str = Field(description="ISO 8601 instant")
    expires_at: str = Field(description="ISO 8601 instant: 00:00 (account zone) of the redemption's day + lifetime")
    balance: str = Field(description="the balance after the redemption, a decimal as text")
    shortfall: str = Field(description="the shortfall left after it, a decimal as text")
    entries: list[EntryOut] = Field(description="the entries it booked: `redeemed`, and `shortfall_settled` "
                                                "when a shortfall was settled from it")


class LotOut(http.ResponseModel):
    lot: str = Field(description="its voucher's code")
    credits: str = Field(description="as redeemed, a decimal as text")
    remaining: str = Field(description="not yet drawn or expired, a decimal as text")
    redeemed_at: str
    expires_at: str


class HistoryEntryOut(EntryOut):
    """One entry of the history (services/prepaid_credit/queries.py `credit`): an entry and its detail."""

    detail: dict[str, Any] | None = Field(description="what the history keeps of a usage or recurring line: "
                                                      "`part_number`, `from`, `to` (days) and `quantity` (a "
                                                      "decimal as text); null for other entries")


class CreditOut(http.ResponseModel):
    """An account's credit as of now (services/prepaid_credit/queries.py `credit`)."""

    account_id: str
    mode: str = Field(description="the account's mode as opened (`prepaid`, `subscription`)")
    currency: str
    as_of: str = Field(description="ISO 8601 instant")
    balance: str = Field(description="a decimal as text")
    shortfall: str = Field(description="a decimal as text")
    low_balance_threshold: str = Field(description="a decimal as text")
    lifetime_estimate: str | None = Field(description="the local day (`YYYY-MM-DD`) the credits are expected to "
                                                      "run out; null at a zero balance")
    lots: list[LotOut] = Field(description="the lots holding credits, in draw order")
    history: list[HistoryEntryOut] = Field(description="newest first, at most `limit`")


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def _check_account(conn, caller: Caller, account_id: str) -> None:
    """Another partner's account is as unknown to a partner as one that does not exist."""
    if not await auth.may_see(conn, caller, account_id):
        raise vouchers.NotFound("unknown_account", f"no account {account_id}")


@router.post("/vouchers", status_code=201, response_model=VoucherBatchOut)
async def issue_vouchers(body: VoucherBatchIn, request: Request, caller: Caller = PARTNER):
    """Issue a batch of vouchers: codes of 12 characters without look-alikes, drawn with
    `secrets`, unique in the database; or the given codes (`duplicate_voucher` when one was
    issued before). A partner issues its own; the operator for anyone (`issuer`) or itself."""
    rt = _rt(request)
    if caller.is_partner and body.issuer not in (None, caller.account_id):
        raise auth.forbid("forbidden_field", "a partner issues vouchers of its own")
    issuer = caller.account_id if caller.is_partner else body.issuer
    batch = vouchers.Batch(body.credits, body.lifetime_days, body.count or 0, body.codes or (), issuer)
    async with rt.pool.acquire() as conn:
        return await vouchers.issue(conn, batch, rt.clock.now())


@router.get("/vouchers", response_model=list[VoucherOut])
async def list_vouchers(request: Request, caller: Caller = PARTNER,
                        batch_id: Annotated[Id | None, Query()] = None,
                        state: Annotated[Literal["issued", "redeemed"] | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """Vouchers newest first with their state (issued, or redeemed by whom and when); a partner
    sees those its tree issued."""
    async with _rt(request).pool.acquire() as conn:
        tree = await auth.tree(conn, caller)
        return await vouchers.listing(conn, sorted(tree) if tree is not None else None, batch_id, state, limit)


@router.post("/accounts/{account_id}/redemptions", status_code=201, response_model=RedemptionOut)
async def redeem_voucher(account_id: Id, body: RedemptionIn, request: Request, caller: Caller = PARTNER):
    """A prepaid account redeems a voucher: a lot of its credits expiring at 00:00 (account zone)
    of the redemption's day + its lifetime; a shortfall is settled from it first. Refused,
    changing nothing: `invalid_voucher`, `unknown_voucher`, `voucher_already_redeemed`,
    `not_prepaid` (and `unknown_account`)."""
    rt = _rt(request)
    now = rt.clock.now()
    if body.at is not None and caller.is_partner:
        raise auth.forbid("forbidden_field", "only an operator dates a redemption")
    if body.at is not None and body.at > now:
        return http.error(422, "at_in_future", "a redemption cannot be dated in the future")
    async with rt.pool.acquire() as conn:
        await _check_account(conn, caller, account_id)

        async def reaches(issuer: str, account: str) -> bool:
            return await auth.may_see(conn, Caller("voucher", "partner", issuer), account)

        return await vouchers.redeem(conn, rt.settings, body.code, account_id, body.at or now, reaches)


@router.get("/accounts/{account_id}/credit", response_model=CreditOut)
async def account_credit(account_id: Id, request: Request, caller: Caller = PARTNER,
                         limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """Balance, shortfall, the remaining-lifetime estimate, the lots holding credits and the
    history newest first (each entry with the balance after it and the lots it drew from)."""
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.credit(conn, account_id, rt.clock.now(), limit)


@router.get("/accounts/{account_id}/credit/history.csv", responses=http.CSV, response_class=http.CsvText)
async def account_history_csv(account_id: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        text = await queries.history_csv(conn, account_id)
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{account_id}-credit.csv"'})


@router.get("/task-failures", summary="Accounts the expiry task skips because their data makes it fail, "
                                      "with the last error", response_model=list[task_failures.TaskFailureOut])
async def failures(request: Request, _: Caller = Depends(auth.OPERATOR)):
    async with _rt(request).pool.acquire() as conn:
        return await task_failures.listing(conn)


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Prepaid credit API", version="1",
                  description="Vouchers, redemptions, credit balances and history of prepaid accounts.")
    app.state.runtime = runtime
    app.include_router(router)
    auth.install(app, runtime.settings)

    http.install(app)  # refusals (the domain's, vouchers.NotFound) answer with their own status

    @app.get("/health", response_model=http.HealthOut)
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
