"""Doctor check of providers' keys: every AI (the AI files and the store's AIs) can reach its recogniser, voice and
LLM with the keys this engine has (its config's speech.providers, the vendors' variables, the AI's engine_key)."""
from __future__ import annotations

from pathlib import Path

from flowengine.ai.definitions import check_ai_file
from flowengine.config import Config
from flowengine.doctor.report import Check
from flowengine.providers import credentials
from flowengine.providers.catalogue import LLM, STT, TTS
from flowengine.store import AI, Store

FIX = ("set the key each line names (speech.providers.<vendor>.api_key in the config or the vendor's environment "
       "variable, in the engine's environment file); an AI's LLM key may also be its own engine_key / engine_key_env")


def ai_problems(ai: AI, engine_key: str) -> list[str]:
    """What stops this AI's providers here, one line each (empty: all available)."""
    answers = [("stt_type", STT.check(ai.stt_type)), ("tts_type", TTS.check(ai.tts_type)),
               ("engine_model", LLM.check(ai.engine_model, api_key=engine_key, parameter=ai.parameter))]
    return [answer.problem(field) for field, answer in answers if not answer.available]


async def check_providers(config: Config, *, read_store: bool = True) -> Check:
    """`read_store=False` (the store check failed) leaves the stored AIs out, rather than creating a database."""
    credentials.configure(config.speech.accesses())
    problems: list[str] = []
    files = sorted(p for p in (Path(config.flows_dir) / "ais").glob("*.y*ml"))
    for path in files:
        loaded, found = check_ai_file(path)
        problems += [f"{p.format()}" for p in found if p.is_error]
        if loaded is not None:
            problems += [f"{path}: {line}" for line in ai_problems(loaded.ai, loaded.engine_key.get_secret_value())]
    stored, note = await _stored_ais(config) if read_store else ([], " (stored AIs not checked: see store)")
    for ai, key in stored:
        problems += [f"stored AI {ai.name or ai.id!r} (customer {ai.customer_id}): {line}"
                     for line in ai_problems(ai, key)]
    count = f"{len(files)} AI file(s) in {Path(config.flows_dir) / 'ais'}, {len(stored)} stored AI(s){note}"
    if problems:
        return Check.failed("providers", f"{count}; " + "; ".join(problems), FIX)
    return Check.ok("providers", f"every provider of {count} is available")


async def _stored_ais(config: Config) -> tuple[list[tuple[AI, str]], str]:
    """The store's AIs with their engine keys ("" for none); when the store cannot be read, none and why."""
    cfg = config.store
    keys = [k.get_secret_value() for k in (cfg.secret_key, *cfg.previous_secret_keys) if k.get_secret_value()]
    try:
        store = await Store.open(cfg.url, secret_keys=keys, migrate=False)
    except Exception as exc:  # noqa: BLE001 - the store check names the store's own problem
        return [], f" (stored AIs not checked: {type(exc).__name__})"
    try:
        if await store.schema_version() != store.head_version():
            return [], " (stored AIs not checked: store not migrated)"
        found: list[tuple[AI, str]] = []
        for ai in await store.ais.of_every_customer(filters={}):
            key = await store.ais.get_engine_key(ai.customer_id, ai.id)
            found.append((ai, key.get_secret_value() if key is not None else ""))
        return found, ""
    finally:
        await store.aclose()
