# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/troubleshooting.md names every status AWS can report and every status the collection handles,
each in its own section, so the page cannot silently fall behind botocore's models or module_utils."""

import re
from pathlib import Path

import botocore.session
import pytest

from ansible_collections.aurora.kerberos.plugins.module_utils import ds
from ansible_collections.aurora.kerberos.plugins.module_utils import rds_domain

DOC = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"

_SESSION = botocore.session.get_session()


def _enum(service, shape):
    values = _SESSION.get_service_model(service).shape_for(shape).enum
    assert values, f"botocore's {service} model has no values for {shape}: update this test"
    return set(values)


def _membership_statuses():
    """RDS models DomainMembership.Status as a free string; its documentation names some values."""
    documentation = _SESSION.get_service_model("rds").shape_for("DomainMembership").members["Status"].documentation
    from_model = set(re.findall(r"<code>([^<]+)</code>", documentation))
    assert from_model, "botocore's DomainMembership.Status documentation names no values: update this test"
    handled = set(rds_domain.STATUSES_DONE + rds_domain.STATUSES_JOINING + rds_domain.STATUSES_LEAVING
                  + rds_domain.STATUSES_FAILED + rds_domain.STATUSES_GONE + rds_domain.STATUSES_MAINTENANCE)
    return from_model | handled


# section title -> (statuses, where each must be named: in a ### heading, or in a table's first column)
SECTIONS = {
    "Domain membership statuses": (_membership_statuses(), "heading"),
    "Directory stages": (_enum("ds", "DirectoryStage")
                         | set(ds.STAGES_IN_PROGRESS + ds.STAGES_FAILED + ds.STAGES_GONE), "heading"),
    "Trust states": (_enum("ds", "TrustState")
                     | set(ds.TRUST_STATES_READY + ds.TRUST_STATES_IN_PROGRESS + ds.TRUST_STATES_FAILED
                           + ds.TRUST_STATES_GONE), "heading"),
    "Directory share statuses": (_enum("ds", "ShareStatus")
                                 | set(ds.SHARE_STATUSES_ENDED + ds.SHARE_STATUSES_ENDING), "table"),
    "Directory data access statuses": (_enum("ds", "DataAccessStatus"), "table"),
}


def _sections():
    """{level-2 title: its text up to the next level-2 heading}."""
    parts = re.split(r"^## +(.+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def _named(body, where):
    """The backquoted names in the section's ### headings, or in the first column of its tables."""
    if where == "heading":
        lines = [line for line in body.splitlines() if line.startswith("### ")]
    else:
        lines = [line.split("|")[1] for line in body.splitlines() if line.startswith("|") and line.count("|") > 2]
    return {name for line in lines for name in re.findall(r"`([^`]+)`", line)}


@pytest.mark.parametrize("title", sorted(SECTIONS))
def test_every_status_has_its_place(title):
    sections = _sections()
    assert title in sections, f"docs/troubleshooting.md has no '## {title}' section"
    statuses, where = SECTIONS[title]
    missing = sorted(statuses - _named(sections[title], where))
    place = "a ### heading" if where == "heading" else "the first column of a table"
    assert not missing, f"'## {title}' in docs/troubleshooting.md does not name {missing} in {place}"


def test_the_page_quotes_the_failed_join_message():
    """The failed-join section quotes the module's own words, so a reworded message shows up here."""
    text = DOC.read_text(encoding="utf-8")
    for words in ("retrying once with the same directory id.", "also after one retry.",
                  "The preflight checks found nothing failing", "the same directory id retries the join."):
        assert words in text
