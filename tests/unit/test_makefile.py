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
