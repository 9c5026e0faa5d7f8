"""meta/runtime.yml: every module of the collection that talks to AWS is in the action group that the
roles' module_defaults (group/aurora.kerberos.aws) feed. ansible-core puts into a group only the
actions listed in it, so a module left out gets no region, profile, keys or endpoint from the roles."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
AWS_FRAGMENT = "amazon.aws.common.modules"


def aws_modules():
    """The modules whose DOCUMENTATION takes amazon.aws's connection options."""
    found = set()
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        source = path.read_text()
        documentation = source.split('DOCUMENTATION = r"""', 1)[-1].split('"""', 1)[0]
        if AWS_FRAGMENT in yaml.safe_load(documentation).get("extends_documentation_fragment", []):
            found.add(path.stem)
    return found


def test_the_aws_group_lists_every_module_that_takes_aws_connection_options():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["aws"]
    listed = {entry for entry in group if isinstance(entry, str)}
    assert {"metadata": {"extend_group": ["amazon.aws.aws"]}} in group
    modules = aws_modules()
    # Every AWS-facing module, for example the preflight and the join, which the roles rely on.
    assert {"kerberos_preflight", "domain_membership", "directory"} <= modules
    assert listed == modules, "add to (or remove from) meta/runtime.yml action_groups.aws: %s" % sorted(listed ^ modules)


def test_every_plugin_documentation_is_yaml():
    """A colon and a space inside a plain YAML scalar breaks ansible-doc (and sanity) for the module and every
    module that extends the fragment: say which file, here, before sanity does."""
    broken = []
    for path in sorted((ROOT / "plugins").glob("*/*.py")):
        source = path.read_text()
        for marker in ('DOCUMENTATION = r"""', 'EXAMPLES = r"""', 'RETURN = r"""'):
            if marker in source:
                try:
                    yaml.safe_load(source.split(marker, 1)[1].split('"""', 1)[0])
                except yaml.YAMLError as exc:
                    broken.append(f"{path.relative_to(ROOT)} {marker.split()[0]}: {exc}")
    assert broken == []
