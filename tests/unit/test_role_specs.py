"""Every role's meta/argument_specs.yml documents exactly its defaults/main.yml: the same variables,
the same literal defaults, a type and a description on each, and the role's name as prefix."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def load(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return defaults, spec["argument_specs"]["main"]["options"]


def test_the_five_roles_are_there():
    assert ROLES == ["cluster", "db_users", "directory", "iam_role", "network"]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_and_every_option_has_a_default_or_is_required(role):
    defaults, options = load(role)
    assert set(defaults) - set(options) == set(), "in defaults/main.yml but not in argument_specs.yml"
    undocumented_required = {name for name, option in options.items() if name not in defaults and not option.get("required")}
    assert undocumented_required == set(), "options with neither a default in defaults/main.yml nor required: true"


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_match_and_every_option_is_typed_described_and_prefixed(role):
    defaults, options = load(role)
    for name, option in options.items():
        assert name.startswith(f"{role}_"), name
        assert option.get("type") and option.get("description"), name
        value = defaults.get(name)
        if name in defaults and not (isinstance(value, str) and "{{" in value):
            assert option.get("default") == value, f"{name}: spec says {option.get('default')!r}, defaults say {value!r}"
