"""The execution environment for AWX / Automation Platform: `make ee-context` writes the build context,
and what an image build from it would install is checked here without a container engine, by
replaying the builder stage's introspection on the collection tarball the context carries."""

import ast
import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
import yaml

from ansible_run import BIN, ROOT, install_collection

CONTEXT = ROOT / "build" / "ee"
# The dependencies the collection ships for any EE that includes it (meta/execution-environment.yml).
WANTED_PYTHON = {"boto3", "botocore", "ldap3", "psycopg2-binary"}
WANTED_SYSTEM = {"krb5-workstation": "platform:rpm", "krb5-user": "platform:dpkg"}


@pytest.fixture(scope="module")
def context():
    done = subprocess.run(["make", "-s", "ee-context"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return CONTEXT


@pytest.fixture(scope="module")
def containerfile(context):
    # Continuation lines joined, so each instruction is one line.
    return (context / "Containerfile").read_text().replace("\\\n", " ").splitlines()


def galaxy_yml():
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())


def requirement_names(lines):
    """Distribution names of pip requirement lines, normalised (PEP 503), comments dropped."""
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def bindep_entries(lines):
    """{package: profiles} of bindep lines, comments dropped."""
    entries = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, dummy, profiles = line.partition(" ")
            entries[name] = profiles.strip().strip("[]")
    return entries


def third_party_imports():
    """Top-level modules that plugins/ imports outside the standard library and Ansible. An import in
    an `except ImportError` handler is a fallback (psycopg for psycopg2) and needs no package."""
    found = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        fallbacks = {id(node) for handler in ast.walk(tree) if isinstance(handler, ast.ExceptHandler)
                     for node in ast.walk(handler)}
        for node in ast.walk(tree):
            if id(node) in fallbacks:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found
            if name not in sys.stdlib_module_names and name not in ("ansible", "ansible_collections", "__future__")}


def test_base_image_is_a_build_argument(containerfile):
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    base = definition["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile


def test_galaxy_stage_installs_the_dependencies_then_this_collection(context, containerfile):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {c["name"]: c["version"] for c in requirements["collections"]} == galaxy_yml()["dependencies"]

    deps = next(i for i, line in enumerate(containerfile)
                if "ansible-galaxy collection install" in line and "-r requirements.yml" in line)
    ours = [i for i, line in enumerate(containerfile) if "ansible-galaxy collection install" in line
            and "aurora-kerberos-" in line]
    assert len(ours) == 1 and ours[0] > deps, "aurora.kerberos must be installed once, after its dependencies"
    # The RUN's glob, read from the build context as the galaxy stage sees it (COPY _build /build).
    pattern = next(word for word in shlex.split(containerfile[ours[0]]) if "aurora-kerberos-" in word)
    tarballs = list(context.glob(pattern.replace("/build/", "_build/", 1)))
    assert len(tarballs) == 1, f"{pattern} must match exactly one tarball in the context, got {tarballs}"
    with tarfile.open(tarballs[0]) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (
        "aurora", "kerberos", galaxy_yml()["version"])


def test_python_requirements_cover_every_runtime_import(context):
    listed = requirement_names((context / "_build" / "requirements.txt").read_text().splitlines())
    assert listed == WANTED_PYTHON
    providers = importlib.metadata.packages_distributions()
    for module in third_party_imports():
        assert module in providers, f"plugins/ imports {module}, which is not installed in the venv"
        dists = {d.lower() for d in providers[module]}
        assert dists & listed, f"plugins/ imports {module} ({dists}): add it to meta/ee-requirements.txt"


def test_system_requirements_name_the_kerberos_client_for_both_package_families(context):
    assert bindep_entries((context / "_build" / "bindep.txt").read_text().splitlines()) == WANTED_SYSTEM


def test_the_image_build_would_install_what_the_collection_declares(context, containerfile, tmp_path):
    """The builder stage runs introspect.py over every installed collection plus the EE's own files;
    replay it on the context's tarball and the bundled amazon.aws and community.postgresql."""
    tarball = next((context / "_build" / "collections").glob("aurora-kerberos-*.tar.gz"))
    install_collection(tarball, tmp_path)
    bundled = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"  # what the ansible package bundles
    for dep in ("amazon/aws", "community/postgresql"):
        (tmp_path / "ansible_collections" / dep).parent.mkdir(exist_ok=True)
        (tmp_path / "ansible_collections" / dep).symlink_to(bundled / dep)

    run = next(shlex.split(line) for line in containerfile if "introspect.py introspect" in line)
    args = [a for a in run[run.index("introspect") + 1:] if not a.startswith("--write-")]
    out = tmp_path / "out"
    done = subprocess.run([str(BIN / "python"), str(context / "_build" / "scripts" / "introspect.py"),
                           "introspect", str(tmp_path), *args,
                           f"--write-pip={out / 'requirements.txt'}", f"--write-bindep={out / 'bindep.txt'}"],
                          cwd=context / "_build", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = yaml.safe_load(done.stdout)

    # The collection's own meta/execution-environment.yml is found in the installed tarball, so an EE
    # that only lists aurora.kerberos gets the same packages.
    from_collection = [line for line in report["python"] + report["system"] if "aurora.kerberos" in line]
    assert requirement_names(line for line in from_collection if "[" not in line) == WANTED_PYTHON
    assert bindep_entries(line for line in from_collection if "[" in line) == WANTED_SYSTEM

    pip = requirement_names((out / "requirements.txt").read_text().splitlines())
    assert WANTED_PYTHON <= pip
    assert not pip & {"pytest", "pytest-mock"}, "community.postgresql's test tools must be excluded"
    system = bindep_entries((out / "bindep.txt").read_text().splitlines())
    runtime = {name for name, profiles in system.items() if "test" not in profiles.split()}
    assert runtime == set(WANTED_SYSTEM), "only test-profile packages may come from the other collections"
