"""The C extension; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "uise_streebog._streebog",
            sources=["src/uise_streebog/_streebog.c"],
            depends=["src/uise_streebog/tables.h"],
            extra_compile_args=["-O3"],
        )
    ]
)
