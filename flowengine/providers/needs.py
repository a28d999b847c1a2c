"""What a provider needs on this machine (Python packages, programs), looked up without loading anything."""
from __future__ import annotations

import importlib.util
import shutil


def missing_modules(modules: tuple[str, ...], hint: str) -> str:
    """`hint` when one of the top-level `modules` is not installed, else ""."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-installed package
            found = False
        if not found:
            return hint
    return ""


def missing_program(program: str, hint: str) -> str:
    """`hint` when `program` is not on the PATH, else ""."""
    return "" if shutil.which(program) else hint
