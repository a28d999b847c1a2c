"""/v1.0/ais: AI configurations; `engine_key` and the declared tools' `server.secret` are write-only
(encrypted at rest, never returned or logged). `engine_model`, `tts_type` and `stt_type` are checked with the
provider catalogue: a name this engine cannot run is a 400 naming the field; what a runnable one still needs
(a key, a package) is checked when a call makes the provider, since the key may come later. What the AI asks of
its providers is asked of them too: a `tts_voice_id` the voice does not have, an `stt_language` the recogniser
cannot do are 400s naming that field."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator

from flowengine.ai.tools.catalog import validate_tool_names
from flowengine.ai.tools.declared import parse_tools, split_secrets
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, Status
from flowengine.store import AI, NIL_ID, VadConfig
from flowengine.store.ais import AIType
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/ais", tags=["AI"])
AIView = view_model(AI, "AIManagerAI")


class AIBody(Body):
    name: str = Field(max_length=255)
    detail: str = Field("", max_length=4096)
    type: AIType = "normal"
    engine_model: str = Field(max_length=255)
    parameter: dict[str, Any] = Field(default_factory=dict)
    engine_key: SecretStr = Field(SecretStr(""), max_length=4096, json_schema_extra={"writeOnly": True})
    rag_id: str = NIL_ID
    init_prompt: str = Field("", max_length=100_000)
    tts_type: str = Field("", max_length=255)
    tts_voice_id: str = Field("", max_length=255)
    stt_type: str = Field("", max_length=255)
    stt_language: str = Field("", max_length=64)
    vad_config: VadConfig | None = None
    smart_turn_enabled: bool = True  # the seed documents no default; see docs/decisions.md "Turns"
    tool_names: list[str] = Field(default_factory=list, max_length=100)
    tools: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    """Declared tools (docs/ai.md "Tools"); a function tool's `server.secret` is taken out here and kept
    encrypted: absent keeps the stored one (PUT), `""` removes it."""
    auto_aicall_audit_enabled: bool = False
    _tool_secrets: dict[str, SecretStr] = PrivateAttr(default_factory=dict)
    _secrets_removed: set[str] = PrivateAttr(default_factory=set)

    @field_validator("engine_model")
    @classmethod
    def _runnable_model(cls, value: str) -> str:
        return runnable(LLM, value)

    @field_validator("tts_type")
    @classmethod
    def _runnable_voice(cls, value: str) -> str:
        return runnable(TTS, value)

    @field_validator("stt_type")
    @classmethod
    def _runnable_recogniser(cls, value: str) -> str:
        return runnable(STT, value)

    @field_validator("tts_voice_id")
    @classmethod
    def _voice_has_it(cls, value: str, info: ValidationInfo) -> str:
        return asked(TTS, info.data.get("tts_type"), value, "voice_id")

    @field_validator("stt_language")
    @classmethod
    def _recogniser_does_it(cls, value: str, info: ValidationInfo) -> str:
        return asked(STT, info.data.get("stt_type"), value, "language")

    @field_validator("tool_names")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        validate_tool_names(value)
        return value

    @field_validator("tools")
    @classmethod
    def _valid_tools(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parse_tools(value)
        return value

    @model_validator(mode="after")
    def _take_secrets(self) -> AIBody:
        removed = {tool.name for tool, raw in zip(parse_tools(self.tools), self.tools, strict=True)
                   if tool.server is not None and "secret" in (raw.get("server") or {}) and not tool.server.secret}
        self.tools, secrets = split_secrets(self.tools)
        self._tool_secrets = {name: SecretStr(secret) for name, secret in secrets.items()}
        self._secrets_removed = removed
        return self

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"engine_key"})

    def tool_secrets(self, stored: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """The secrets to keep: this body's, then the stored ones of function tools it still declares
        without a secret (not `""`, which removes)."""
        kept = {t.name for t in parse_tools(self.tools) if t.type == "function"} - self._secrets_removed
        return {**{name: s for name, s in stored.items() if name in kept}, **self._tool_secrets}


def runnable(catalogue: Catalogue[Any], name: str) -> str:
    """`name` as written (VoIPBIN's "" stays the engine's default) when a provider here runs it."""
    answer = catalogue.check(name)
    if not answer.definable:
        raise ValueError(answer.problem())
    return name


def asked(catalogue: Catalogue[Any], name: str | None, value: str, setting: str) -> str:
    """`value` of `setting` when the provider `name` can do it (`name` None: refused on its own field already)."""
    if name is None or not value:
        return value
    answer = catalogue.check(name, **{setting: value})
    if answer.status is Status.UNSUPPORTED:
        raise ValueError(answer.reason)
    return value


def ai_view(ai: AI) -> dict[str, Any]:
    return view(ai)


@router.get("", response_model=PageOut[AIView])  # type: ignore[valid-type]
async def list_ais(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.ais.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, ai_view)


@router.post("", response_model=AIView)
async def create_ai(customer: CustomerId, deps: Deps, body: AIBody) -> dict[str, Any]:
    ai = await deps.store.ais.create(AI(customer_id=customer, **body.fields()), engine_key=body.engine_key,
                                     tool_secrets=body.tool_secrets({}))
    if deps.resources is not None:
        await deps.resources.put_ai(ai)
    deps.events.emit("ai_created", customer, ai_view(ai))
    return ai_view(ai)


@router.get("/{id}", response_model=AIView)
async def get_ai(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return ai_view(await deps.store.ais.get(customer, id))


@router.put("/{id}", response_model=AIView)
async def update_ai(customer: CustomerId, deps: Deps, id: ResourceId, body: AIBody) -> dict[str, Any]:
    """An empty or absent `engine_key` keeps the stored key (it cannot be read back to resend); so does an
    absent `server.secret` of a function tool the AI still declares."""
    key = body.engine_key if body.engine_key.get_secret_value() else None
    secrets = body.tool_secrets(await deps.store.ais.get_tool_secrets(customer, id))
    ai = await deps.store.ais.update(customer, id, engine_key=key, tool_secrets=secrets, **body.fields())
    if deps.resources is not None:
        await deps.resources.put_ai(ai)
    deps.events.emit("ai_updated", customer, ai_view(ai))
    return ai_view(ai)


@router.delete("/{id}", response_model=AIView)
async def delete_ai(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    ai = await deps.store.ais.delete(customer, id)
    if deps.resources is not None:
        deps.resources.drop(ai.id)
    deps.events.emit("ai_deleted", customer, ai_view(ai))
    return ai_view(ai)
