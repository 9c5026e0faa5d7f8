"""make integration runs two streams; every integration test file must be in exactly one of them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stream(makefile, name):
    match = re.search(rf"^{name} := ((?:.*\\\n)*.*)$", makefile, re.M)
    return match.group(1).replace("\\\n", " ").split()


def test_every_integration_test_file_is_in_exactly_one_stream():
    makefile = (ROOT / "Makefile").read_text()
    lab, chain = stream(makefile, "INTEGRATION_LAB"), stream(makefile, "INTEGRATION_CHAIN")
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "integration").glob("test_*.py"))
    listed = sorted(f for f in lab + chain if f.startswith("tests/integration/"))
    assert listed == files
    assert "tests/lab" in lab and not set(lab) & set(chain)
    for path in lab + chain:
        assert (ROOT / path).exists(), path


def prerequisites(target, rules):
    """Every target make builds before target, transitively."""
    seen, todo = set(), [target]
    while todo:
        for dep in rules.get(todo.pop(), []):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def make_rules():
    """{target: [prerequisites]} from make's own database (make -pq), not from a regex of ours."""
    import subprocess
    database = subprocess.run(["make", "-pRrq", "-C", str(ROOT), "-f", "Makefile", "help"], capture_output=True,
                              text=True, check=False).stdout
    rules = {}
    for line in database.split("# Files", 1)[-1].splitlines():
        match = re.match(r"^([a-z][a-z-]*):(?!=)(.*)$", line)
        if match:
            rules[match.group(1)] = match.group(2).split()
    return rules


def test_the_main_commands_set_up_what_they_need_first():
    """make demo and make test work on a fresh clone: each runs setup (idempotent, 0.1 s once done) first."""
    rules = make_rules()
    for target in ("demo", "test", "bench", "bench-logins", "bench-chain", "molecule", "lab-up", "sanity", "units",
                   "lint", "integration", "build", "ee-context"):
        assert "setup" in prerequisites(target, rules), f"make {target} does not depend on setup"
    # setup itself must not depend on anything that needs the venv.
    assert prerequisites("setup", rules) == set()


def test_ci_runs_the_readme_test_command_and_nothing_else():
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]
