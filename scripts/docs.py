#!/usr/bin/env python3
"""The collection's documentation, three ways:

  docs.py lint              antsibull-docs lint-collection-docs --plugin-docs on the built collection; exit 1 on a finding
  docs.py site DEST         the HTML site of every module and role (antsibull-docs sphinx-init, sphinx-build) into DEST
  docs.py role-docs [--check]
                            the variables table of each roles/*/README.md, written from meta/argument_specs.yml
                            (--check: exit 1, naming the README, when one differs; nothing is written)

The lint and the site work on the collection as ansible-galaxy builds it, installed in an ansible_collections tree
with its dependencies (amazon.aws, community.postgresql) beside it. That tree is made in a temporary folder outside
any git checkout: antsibull-docs copies a collection found inside one with git, that is only its tracked files.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLLECTION = "aurora.kerberos"
DEPENDENCIES = ("amazon.aws", "community.postgresql")

# Warnings of an offline sphinx-build that are not ours: references into the Ansible docsite and other
# collections' docs, which intersphinx resolves only when it can download their inventories.
OFFLINE_WARNINGS = (
    re.compile(r"failed to reach any of the inventories"),
    re.compile(r"intersphinx inventory '[^']+' not (fetchable|readable)"),
    re.compile(r"undefined label: '(?!ansible_collections\.aurora\.kerberos\.)[^']+'"),
)


def run(args, env=None, cwd=None):
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def tool_env(tree):
    """The environment antsibull-docs and ansible-doc need: the venv's tools first, the tree's collections only,
    and git kept from finding a checkout above the tree.

    Not scanning sys.path matters: ansible-galaxy lists collection paths sorted by name, and antsibull-docs copies
    a dependency from the first path that lists it. Where the venv's bundled collections sort first (a checkout
    whose path sorts before the temporary folder), it took amazon.aws from inside the git checkout and copied only
    the files git tracks there, none."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(tree),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False", GIT_CEILING_DIRECTORIES=str(tree.parent),
                ANSIBLE_NOCOLOR="1")


def installed_collections():
    """{name: path} of the collections ansible-galaxy sees from the repo (the first path listing one wins)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    code, out = run([BIN / "ansible-galaxy", "collection", "list", "--format", "json"], env=env, cwd=ROOT)
    if code:
        raise SystemExit(f"docs: ansible-galaxy collection list failed: {out}")
    found = {}
    for base, collections in json.loads(out[out.index("{"):]).items():
        for name in collections:
            found.setdefault(name, Path(base, *name.split(".")))
    return found


def collection_tree(work):
    """work/ansible_collections/aurora/kerberos from the built tarball, its dependencies copied beside it."""
    dist = work / "dist"
    code, out = run([BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", dist, ROOT], cwd=ROOT)
    if code:
        raise SystemExit(f"docs: ansible-galaxy collection build failed: {out}")
    tree = work / "collections"
    target = tree / "ansible_collections" / Path(*COLLECTION.split("."))
    target.mkdir(parents=True)
    with tarfile.open(next(dist.glob("*.tar.gz"))) as tarball:
        tarball.extractall(target, filter="data")
    installed = installed_collections()
    for name in DEPENDENCIES:
        if name not in installed:
            raise SystemExit(f"docs: {name} is not installed: run make setup")
        shutil.copytree(installed[name], tree / "ansible_collections" / Path(*name.split(".")), symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return tree, target


def lint():
    """(exit code, findings) of antsibull-docs lint-collection-docs --plugin-docs on the built collection."""
    with tempfile.TemporaryDirectory(prefix="aurora-kerberos-docs-") as work:
        tree, target = collection_tree(Path(work))
        code, out = run([BIN / "antsibull-docs", "lint-collection-docs", "--plugin-docs", target], env=tool_env(tree))
        findings = [line.replace(str(target) + os.sep, "") for line in out.splitlines() if line.strip()]
        return code, findings


def site(dest):
    """Build the HTML site into dest/html; exit 1 on a warning that is not an offline reference."""
    dest = Path(dest).resolve()
    with tempfile.TemporaryDirectory(prefix="aurora-kerberos-docs-") as work:
        tree, dummy = collection_tree(Path(work))
        env = tool_env(tree)
        sphinx = Path(work) / "sphinx"
        sphinx.mkdir(mode=0o700)
        for args in (["sphinx-init", "--use-current", "--dest-dir", sphinx, COLLECTION],
                     ["--config-file", sphinx / "antsibull-docs.cfg", "collection", "--use-current", "--cleanup",
                      "everything", "--dest-dir", sphinx / "rst", COLLECTION]):
            if args[0] != "sphinx-init":
                (sphinx / "rst").mkdir(mode=0o700, exist_ok=True)
            code, out = run([BIN / "antsibull-docs", *args], env=env, cwd=sphinx)
            if code:
                raise SystemExit(f"docs: antsibull-docs {args[0]} failed:\n{out}")
        warnings = sphinx / "warnings.txt"
        code, out = run([BIN / "sphinx-build", "-q", "-b", "html", "-c", sphinx, "-w", warnings, "--keep-going",
                         sphinx / "rst", sphinx / "html"], env=env, cwd=sphinx)
        ours = [line for line in warnings.read_text().splitlines()
                if line.strip() and not any(pattern.search(line) for pattern in OFFLINE_WARNINGS)]
        if code or ours:
            raise SystemExit("docs: sphinx-build found problems:\n" + "\n".join(ours or [out]))
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copytree(sphinx / "html", dest / "html")
    return dest / "html" / "index.html"


# ---- roles/*/README.md: the variables table --------------------------------------------------------------------
BEGIN = "<!-- BEGIN VARIABLES: written by make role-docs from meta/argument_specs.yml; do not edit by hand -->"
END = "<!-- END VARIABLES -->"
MARKUP = [
    (re.compile(r"L\(([^,)]+),\s*([^)]+)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^)]+)\)"), r"<\1>"),
    (re.compile(r"I\(([^)]+)\)"), r"*\1*"),
    (re.compile(r"B\(([^)]+)\)"), r"**\1**"),
    (re.compile(r"[CVMOPE]\(([^()]*(?:\([^()]*\)[^()]*)*)\)"), r"`\1`"),
]


def markdown(text):
    """Ansible's doc markup as Markdown, on one table cell's line."""
    text = " ".join(str(text).split())
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text.replace("|", "\\|")


def value(data):
    return "`" + json.dumps(data).replace("|", "\\|") + "`"


def rows(options, defaults, prefix=""):
    for name in sorted(options):
        option = options[name] or {}
        full = prefix + name
        kind = option.get("type", "str")
        if kind == "list" and option.get("elements"):
            kind = f"list of {option['elements']}"
        if option.get("required"):
            default = "required"
        elif "default" in option:
            default = value(option["default"])
        elif not prefix and name in defaults:
            default = value(defaults[name])
        else:
            default = ""
        text = option.get("description") or []
        text = " ".join(markdown(t) for t in ([text] if isinstance(text, str) else text))
        if option.get("choices"):
            text += " Choices: " + ", ".join(value(c) for c in option["choices"]) + "."
        yield f"| `{full}` | {kind} | {default} | {text} |"
        if option.get("options"):
            yield from rows(option["options"], {}, prefix=f"{full}.")


def variables_table(role):
    """The README's variables section of a role: one row per option of meta/argument_specs.yml (main entry point),
    suboptions as parent.child, the default from the spec or, where the spec has none, from defaults/main.yml."""
    base = ROOT / "roles" / role
    spec = yaml.safe_load((base / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((base / "defaults" / "main.yml").read_text()) or {}
    lines = [BEGIN, "", "| Variable | Type | Default | Description |", "|---|---|---|---|", *rows(spec, defaults), "", END]
    return "\n".join(lines)


def readme_with_table(role):
    """(path, current text, text with the table from argument_specs)."""
    path = ROOT / "roles" / role / "README.md"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return path, text, None
    return path, text, pattern.sub(lambda m: variables_table(role), text)


def roles():
    return sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def role_docs(check):
    problems = []
    for role in roles():
        path, text, wanted = readme_with_table(role)
        if wanted is None:
            problems.append(f"{path.relative_to(ROOT)}: no variables table (the {BEGIN!r} ... {END!r} markers)")
        elif wanted != text:
            if check:
                problems.append(f"{path.relative_to(ROOT)}: its variables table differs from meta/argument_specs.yml")
            else:
                path.write_text(wanted)
                print(f"docs: wrote the variables table of {path.relative_to(ROOT)}")
    if problems:
        raise SystemExit("docs: " + "\n".join(problems) + "\nrun make role-docs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("lint")
    site_args = commands.add_parser("site")
    site_args.add_argument("dest")
    role_args = commands.add_parser("role-docs")
    role_args.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.command == "lint":
        code, findings = lint()
        if findings:
            print("\n".join(findings))
        print(f"docs: antsibull-docs lint-collection-docs --plugin-docs: {len(findings)} finding(s)")
        return 1 if code or findings else 0
    if args.command == "site":
        print(f"docs: the site is in {site(args.dest)}")
        return 0
    role_docs(args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
