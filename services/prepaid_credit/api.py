"""prepaid_credit's HTTP routes: vouchers, redemptions, credit history; refusals as 4xx with a reason."""

from __future__ import annotations

from typing import Annotated, Literal

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
CSV: dict = {200: {"description": "CSV, one header line", "content": {"text/csv": {"schema": {"type": "string"}}}}}
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


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def _check_account(conn, caller: Caller, account_id: str) -> None:
    """Another partner's account is as unknown to a partner as one that does not exist."""
    if not await auth.may_see(conn, caller, account_id):
        raise vouchers.NotFound("unknown_account", f"no account {account_id}")


@router.post("/vouchers", status_code=201)
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


@router.get("/vouchers")
async def list_vouchers(request: Request, caller: Caller = PARTNER,
                        batch_id: Annotated[Id | None, Query()] = None,
                        state: Annotated[Literal["issued", "redeemed"] | None, Query()] = None,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """Vouchers newest first with their state (issued, or redeemed by whom and when); a partner
    sees those its tree issued."""
    async with _rt(request).pool.acquire() as conn:
        tree = await auth.tree(conn, caller)
        return await vouchers.listing(conn, sorted(tree) if tree is not None else None, batch_id, state, limit)


@router.post("/accounts/{account_id}/redemptions", status_code=201)
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


@router.get("/accounts/{account_id}/credit")
async def account_credit(account_id: Id, request: Request, caller: Caller = PARTNER,
                         limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """Balance, shortfall, the remaining-lifetime estimate, the lots holding credits and the
    history newest first (each entry with the balance after it and the lots it drew from)."""
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.credit(conn, account_id, rt.clock.now(), limit)


@router.get("/accounts/{account_id}/credit/history.csv", responses=CSV)
async def account_history_csv(account_id: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        text = await queries.history_csv(conn, account_id)
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{account_id}-credit.csv"'})


@router.get("/task-failures", summary="Accounts the expiry task skips because their data makes it fail, "
                                      "with the last error")
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

    @app.get("/health")
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
