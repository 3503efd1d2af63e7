"""The docker_host role's defaults, argument spec and the collection's requirements.txt agree: the
venv mode pip-installs what requirements.txt lists, the minimum versions the role checks are
requirements.txt's, and the argument spec documents every default with its value."""

from __future__ import annotations

import re

import yaml

from ansible_runner import REPO

ROLE = REPO / "roles" / "docker_host"


def defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def spec_options() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def requirements() -> list[str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_venv_requirements_are_the_collections():
    assert defaults()["pgdock_docker_host_pip_requirements"] == requirements()


def test_minimum_versions_are_those_of_requirements_txt():
    # the import name of each requirement (psycopg2-binary is imported as psycopg2) and its minimum
    least = {}
    for req in requirements():
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", req).groups()
        least[name.removesuffix("-binary")] = version
    assert defaults()["pgdock_docker_host_min_versions"] == least


def test_argument_spec_documents_every_default_with_its_value():
    options, values = spec_options(), defaults()
    assert sorted(options) == sorted(values)
    for name, value in values.items():
        assert options[name].get("default") == value, name
