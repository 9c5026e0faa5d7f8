"""The documentation: antsibull-docs' lint of the built collection is clean, and every role's README holds
its variables exactly as meta/argument_specs.yml states them (scripts/docs.py writes and checks both)."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("docs_script", ROOT / "scripts" / "docs.py")
docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(docs)
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())
SECTIONS = ("## Requirements", "## IAM permissions", "## Variables", "## Outputs", "## Idempotence", "## Example")


def test_antsibull_docs_lint_of_the_built_collection_has_no_finding():
    code, findings = docs.lint()
    assert findings == [] and code == 0, "\n".join(findings)


def test_antsibull_docs_sees_only_the_trees_collections(tmp_path):
    """ansible-galaxy lists collection paths sorted by name and antsibull-docs copies a dependency from the first
    one. Whatever the tree's path sorts against the venv's bundled collections, the tree must be the only place
    amazon.aws comes from: the venv is inside a git checkout, whose copy holds only the files git tracks, none."""
    tree = tmp_path / "zz" / "collections"
    (tree / "ansible_collections" / "amazon" / "aws").mkdir(parents=True)
    (tree / "ansible_collections" / "amazon" / "aws" / "MANIFEST.json").write_text(
        '{"collection_info": {"namespace": "amazon", "name": "aws", "version": "10.1.2"}, "file_manifest_file": {}}')
    out = subprocess.run([str(docs.BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
                         env=docs.tool_env(tree), capture_output=True, text=True, check=True).stdout
    listed = json.loads(out[out.index("{"):])
    having = [path for path, collections in listed.items() if "amazon.aws" in collections]
    assert having == [str(tree / "ansible_collections")]


def test_every_role_has_a_readme():
    assert ROLES == ["cluster", "db_users", "directory", "iam_role", "network"]
    for role in ROLES:
        assert (ROOT / "roles" / role / "README.md").exists(), f"roles/{role}/README.md is missing"


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_variables_table_is_the_argument_specs(role):
    path, text, wanted = docs.readme_with_table(role)
    assert wanted is not None, f"{path}: no variables table markers"
    assert text == wanted, f"{path}: the variables table differs from meta/argument_specs.yml: run make role-docs"


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_has_every_section_and_every_variable(role):
    text = (ROOT / "roles" / role / "README.md").read_text()
    for section in SECTIONS:
        assert re.search(rf"^{re.escape(section)}\b", text, re.M), f"roles/{role}/README.md: no {section}"
    assert "docs/iam-policy.md" in text
    options = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name in options["argument_specs"]["main"]["options"]:
        assert f"| `{name}` |" in text, f"roles/{role}/README.md does not list {name}"


def test_a_changed_argument_spec_shows_as_drift(tmp_path, monkeypatch):
    """The check can fail: a description changed in argument_specs no longer matches the README."""
    role = "iam_role"
    fake = tmp_path / "roles" / role
    (fake / "meta").mkdir(parents=True)
    (fake / "defaults").mkdir()
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    spec["argument_specs"]["main"]["options"]["iam_role_name"]["description"] = ["Something else."]
    (fake / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    (fake / "defaults" / "main.yml").write_text((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    (fake / "README.md").write_text((ROOT / "roles" / role / "README.md").read_text())
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    path, text, wanted = docs.readme_with_table(role)
    assert wanted != text and "Something else." in wanted


def test_markup_becomes_markdown():
    assert docs.markdown("Use C(a|b) and V(true), see M(aurora.kerberos.directory), I(x) L(AWS,https://a.b/c)") == \
        "Use `a\\|b` and `true`, see `aurora.kerberos.directory`, *x* [AWS](https://a.b/c)"
