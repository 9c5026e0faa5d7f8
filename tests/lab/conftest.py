"""tests/lab probe each AWS behaviour on its own. A new IAM role is not usable by RDS for the lab's knob
iam_propagation_seconds (IAM's eventual consistency, AWS_FACTS.md section 3): tests that are not about that
create a role and join at once, so they run with the knob at 0. test_iam_propagation.py sets it itself."""

import pytest

from labtools import lab_api


@pytest.fixture(autouse=True)
def iam_roles_propagate_at_once(request):
    if "lab" not in request.fixturenames:
        yield
        return
    lab = request.getfixturevalue("lab")
    saved = lab_api(lab, "GET", "knobs")["iam_propagation_seconds"]
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": 0})
    yield
    lab_api(lab, "POST", "knobs", {"iam_propagation_seconds": saved})
