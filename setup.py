"""Build of the media engine's native kernel; everything else is declared in setup.cfg."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "flowengine.media._native_inbound",
            ["flowengine/media/_native_inbound.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],
        )
    ]
)
