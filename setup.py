"""Install swiftcls; requirements live in requirements/*.txt."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name: str) -> list[str]:
    lines = (HERE / "requirements" / f"{name}.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="swiftcls",
    version="0.1.0",
    description="Fine-tune LLMs, encoders and vision-language models as sequence classifiers.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["swiftcls", "swiftcls.*"]) + ["swiftcls.templates"],
    package_dir={"swiftcls.templates": "templates"},
    package_data={"swiftcls.templates": ["*.yaml"], "swiftcls.config": ["ds_configs/*.json"],
                  "swiftcls.cli": ["flags.json"]},
    install_requires=requirements("base"),
    # deepspeed is a base dependency now (it installs without compiling ops); the empty extra keeps
    # `pip install swiftcls[deepspeed]` working for those who still name it.
    extras_require={**{name: requirements(name) for name in ("tests", "examples", "vllm", "onnx")}, "deepspeed": []},
    entry_points={"console_scripts": ["swiftcls=swiftcls.cli.main:main"]},
)
