"""The HTTP routes: decisions, events, strategy status, health; OpenAPI docs at ``/docs``.

Every ``/v1`` route needs an API key (``Authorization: Bearer cl_...`` or
``X-API-Key``) with the route's scope; refused requests (401, 403, 429) are
counted. Bodies are validated by pydantic except the events of a batch, which
are checked one by one so that a bad event is refused alone.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import anyio
import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from core.api.events import validate_batch
from core.api.keys import ApiKey, create_key, list_keys, revoke_key
from core.api.service import Service
from core.errors import CopyLiftError, NotFoundError, ValidationError

MAX_BATCH = 10_000


class DecisionRequest(BaseModel):
    strategy_id: str = Field(min_length=1, max_length=200, examples=["stg-1a2b3c4d5e6f"])
    user_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH, examples=[["u00001", "u00002"]])
    first_name_fallback: str | None = Field(
        default=None, max_length=50, description="Fills {first_name} for users without a first name")


class UserDecision(BaseModel):
    user_id: str
    status: str = Field(description="decided, or not_eligible (see reason)")
    action: str = Field(description="send, holdout (send nothing) or do_not_send")
    segment: str | None
    variant_id: str | None = Field(description="as in the export's assignment file ('control' for the holdout)")
    arm: str | None = Field(description="control or treatment")
    copy_variant_id: str | None = Field(description="the variant whose copy is sent (the control copy for a holdout)")
    channel: str | None
    copy_: str | None = Field(alias="copy", description="rendered copy, personalization tokens filled")
    offer: dict | None
    reason: str | None
    allocation_no: int | None


class DecisionResponse(BaseModel):
    strategy_id: str
    strategy_version: int
    allocation_no: int
    decisions: list[UserDecision]


class EventBatch(BaseModel):
    events: list[Any] = Field(
        min_length=1, max_length=MAX_BATCH,
        description="Each event: event_id (idempotency key), type (delivery, open, click, conversion, revenue), "
                    "strategy_id, user_id, optional variant_id (checked against the decided arm), ts (ISO 8601, "
                    "default now), value (revenue amount; required for revenue)",
        examples=[[{"event_id": "e-1", "type": "delivery", "strategy_id": "stg-1a2b3c4d5e6f", "user_id": "u00001"}]],
    )


class EventResponse(BaseModel):
    received: int
    stored: int = Field(description="new events written (committed before this response)")
    duplicates: int = Field(description="event ids already stored or repeated in the batch: nothing changed")
    rejected: list[dict] = Field(description="index, event_id and reason of each refused event")


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: str = Field(description="comma list of decide, events, read")
    rate_per_s: float = 200.0


def _json(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def create_app(service: Service) -> FastAPI:
    """The FastAPI application over one ``Service``."""
    app = FastAPI(title="CopyLift decision service", version="1",
                  description="Per-user decisions for approved strategies, and outcome events that feed learning.")
    app.state.service = service

    def require(scope: str):
        def check(authorization: str | None = Header(default=None), x_api_key: str | None = Header(default=None)
                  ) -> ApiKey:
            presented = x_api_key
            if authorization and authorization.lower().startswith("bearer "):
                presented = authorization[7:].strip()
            key, why = service.keys.check(presented)
            if key is None:
                service.refuse(401, why)
                raise HTTPException(401, f"{why}: send 'Authorization: Bearer <key>'",
                                    headers={"WWW-Authenticate": "Bearer"})
            if scope not in key.scopes:
                service.refuse(403, f"missing scope {scope}")
                raise HTTPException(403, f"key {key.key_id} lacks the '{scope}' scope")
            wait = service.limiter.allow(key)
            if wait:
                service.refuse(429, f"rate limit {key.key_id}")
                raise HTTPException(429, f"key {key.key_id} is over {key.rate_per_s:g} requests/s",
                                    headers={"Retry-After": f"{max(wait, 0.001):.3f}"})
            return key
        return check

    async def live_strategy(strategy_id: str):
        live = service.cached(strategy_id)
        if live is not None:
            return live
        try:
            return await anyio.to_thread.run_sync(service.load, strategy_id)
        except NotFoundError as err:
            raise HTTPException(404, str(err)) from err
        except ValidationError as err:
            raise HTTPException(409, str(err)) from err

    @app.post("/v1/decisions", response_model=DecisionResponse, tags=["decisions"])
    async def decisions(body: DecisionRequest, key: ApiKey = Depends(require("decide"))) -> Response:
        """Decide for one or many users (up to 10,000): arm, rendered copy, channel and offer, or why not."""
        live = await live_strategy(body.strategy_id)
        fallback = body.first_name_fallback or service.settings.first_name_fallback
        results, rows = live.decide(body.user_ids, fallback)
        live = live.current()  # the version that decided, if a refresh replaced the one we held
        if rows:
            try:
                await service.writer.write(decisions=[r + (key.key_id,) for r in rows])
            except Exception as err:
                with live.lock:  # not stored, so not decided: the next request decides again
                    for r in rows:
                        live.sticky.pop(r[1], None)
                raise HTTPException(503, f"decisions could not be stored ({type(err).__name__}); retry") from err
        return _json({"strategy_id": live.strategy_id, "strategy_version": live.version,
                      "allocation_no": live.allocation.update_no, "decisions": results})

    @app.post("/v1/events", response_model=EventResponse, tags=["events"])
    async def events(body: EventBatch, key: ApiKey = Depends(require("events"))) -> Response:
        """Report delivery, open, click, conversion and revenue events; idempotent by event id."""
        wanted: dict[str, set[str]] = {}
        for raw in body.events:
            if isinstance(raw, dict) and isinstance(raw.get("strategy_id"), str) and isinstance(raw.get("user_id"), str):
                wanted.setdefault(raw["strategy_id"], set()).add(raw["user_id"])
        known = {}
        for sid, users in wanted.items():
            live = service.cached(sid)
            if live is None or any(live.arm_of(u) is None for u in users):
                known[sid] = await anyio.to_thread.run_sync(service.attribution, sid, sorted(users))
            else:
                known[sid] = {u: (live.arm_of(u)[0].name, live.arm_of(u)[1].variant_id) for u in users}

        def lookup(sid: str, uid: str):
            found = known.get(sid, {}).get(uid)
            return found or (f"no decision recorded for user {uid[:40]} under strategy {sid[:40]}: "
                             "ask POST /v1/decisions before reporting its outcomes")

        rows, rejected, repeats = validate_batch(body.events, lookup, key.key_id)
        try:
            new = await service.writer.write(events=rows)
        except Exception as err:
            raise HTTPException(503, f"events could not be stored ({type(err).__name__}); nothing was kept, "
                                     "retry the batch") from err
        return _json({"received": len(body.events), "stored": len(new),
                      "duplicates": repeats + len(rows) - len(new), "rejected": rejected})

    @app.get("/v1/strategies/{strategy_id}", tags=["strategies"])
    async def strategy(strategy_id: str, key: ApiKey = Depends(require("read"))) -> Response:
        """Status, arms, live counts and the current allocation of a strategy."""
        live = await live_strategy(strategy_id)
        counts = await anyio.to_thread.run_sync(service.live_counts, strategy_id)
        alloc = live.allocation
        segments = [{
            "segment": seg.name, "do_not_send": seg.do_not_send, "reason": seg.reason or None,
            "arms": [{"variant_id": a.variant_id, "arm": "control" if a.is_control else "treatment",
                      "copy_variant_id": a.copy_variant_id, "channel": a.channel, "copy_template": a.template,
                      "approved_share": live.plan_allocation.shares[seg.name][j],
                      "current_share": alloc.shares[seg.name][j]} for j, a in enumerate(seg.arms)],
        } for seg in live.segments]
        return _json({
            "strategy_id": live.strategy_id, "name": live.name, "version": live.version, "status": live.status,
            "holdout": live.holdout, "floor": live.floor, "segments": segments,
            "allocation": {"update_no": alloc.update_no, "trigger": alloc.trigger},
            "live_counts": orjson.loads(counts.to_json(orient="records")),
            "decided_users": len(live.sticky),
        })

    @app.get("/health", tags=["health"])
    async def health() -> Response:
        """Liveness and a few counters (no key needed; nothing about customers)."""
        refused: dict[str, int] = {}
        for (status, _), n in service.refusals.items():
            refused[str(status)] = refused.get(str(status), 0) + n
        return _json({"status": "ok", "strategies_loaded": service.loaded, "commits": service.writer.commits,
                      "refused": refused, "retraining": service.retraining,
                      "uptime_s": round(time.time() - service.started_at, 1)})

    def admin(x_admin_token: str | None = Header(default=None)) -> None:
        if not x_admin_token or not hmac.compare_digest(x_admin_token, service.admin_token):
            service.refuse(401, "bad admin token")
            raise HTTPException(401, "admin requests need the token the service wrote beside the database")

    @app.post("/v1/admin/keys", tags=["admin"], dependencies=[Depends(admin)])
    async def admin_create(body: NewKey) -> Response:
        """Create a key (the keys CLI uses this while the service holds the database)."""
        key, text = await anyio.to_thread.run_sync(create_key, service.store, body.name, body.scopes, body.rate_per_s)
        service.keys.reload()
        return _json({"key_id": key.key_id, "name": key.name, "scopes": sorted(key.scopes),
                      "rate_per_s": key.rate_per_s, "key": text})

    @app.get("/v1/admin/keys", tags=["admin"], dependencies=[Depends(admin)])
    async def admin_list() -> Response:
        frame = await anyio.to_thread.run_sync(list_keys, service.store)
        return _json({"keys": orjson.loads(frame.to_json(orient="records", date_format="iso"))}["keys"])

    @app.post("/v1/admin/keys/{key_id}/revoke", tags=["admin"], dependencies=[Depends(admin)])
    async def admin_revoke(key_id: str) -> Response:
        await anyio.to_thread.run_sync(revoke_key, service.store, key_id)
        service.keys.reload()  # refused from the next request on
        return _json({"key_id": key_id, "revoked": True})

    @app.exception_handler(CopyLiftError)
    async def copylift_error(request: Request, err: CopyLiftError) -> Response:
        status = 404 if isinstance(err, NotFoundError) else 409 if isinstance(err, ValidationError) else 500
        return _json({"detail": str(err)}, status)

    return app
