"""Runs every doctor check in order, a check whose ground failed being skipped rather than failed again."""
from __future__ import annotations

from pathlib import Path

from flowengine.config import Config, ConfigError, load_config
from flowengine.doctor.asterisk import AriTarget, check_ari, check_media
from flowengine.doctor.providers import check_providers
from flowengine.doctor.report import Check, Report
from flowengine.doctor.store import check_store

NAMES = ("config", "ari", "app", "rtp", "speech_http", "store", "providers")


def load(path: str | Path | None) -> tuple[Config | None, Check]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, Check.failed("config", f"{exc.source}: " + "; ".join(exc.problems),
                                  "correct the keys named (file or FLOWENGINE_* environment variables)")
    return config, Check.ok("config", f"{path or '<defaults and environment>'} is valid")


async def diagnose(config: Config, listen_s: float = 1.0) -> Report:
    """Every check of a deployment described by `config` (already loaded)."""
    report = Report()
    target = AriTarget.from_config(config.asterisk)
    if isinstance(target, str):
        report.checks.append(Check.failed("ari", target, "start it (`flowengine asterisk start --dir DIR`) or unset "
                                                         "asterisk.private_dir to use asterisk.ari_url"))
        report.checks += [Check.skipped(n, "no Asterisk") for n in ("app", "rtp", "speech_http")]
    else:
        report.checks += await check_ari(target)
        if report.by_name()["ari"].status == "ok":
            report.checks += await check_media(target, config.media, config.speech, listen_s)
        else:
            report.checks += [Check.skipped(n, "ARI failed") for n in ("rtp", "speech_http")]
    store = await check_store(config.store)
    report.checks.append(store)
    report.checks.append(await check_providers(config, read_store=store.status == "ok"))
    return report


async def run_doctor(path: str | Path | None, listen_s: float = 1.0) -> Report:
    config, loaded = load(path)
    if config is None:
        return Report([loaded, *(Check.skipped(n, "the config is invalid") for n in NAMES[1:])])
    report = await diagnose(config, listen_s)
    report.checks.insert(0, loaded)
    return report
