# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's retry decorator rides out ThrottlingException, which amazon.aws's does not."""

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.aurora.kerberos.plugins.module_utils.retries import jittered_backoff


def flaky(code, failures):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= failures:
            raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "DescribeDirectories")
        return len(calls)

    return call


@pytest.mark.parametrize("code", ["ThrottlingException", "Throttling", "RequestLimitExceeded"])
def test_throttling_is_retried(code):
    assert jittered_backoff(retries=5, delay=0, max_delay=0)(flaky(code, 3))() == 4


def test_amazon_aws_alone_gives_up_on_throttling_exception():
    with pytest.raises(ClientError):
        AWSRetry.jittered_backoff(retries=5, delay=0, max_delay=0)(flaky("ThrottlingException", 1))()


def test_extra_codes_are_kept():
    wrapped = jittered_backoff(retries=5, delay=0, max_delay=0, catch_extra_error_codes=["InvalidDBClusterStateFault"])
    assert wrapped(flaky("InvalidDBClusterStateFault", 2))() == 3


def test_other_errors_are_not_retried():
    with pytest.raises(ClientError):
        jittered_backoff(retries=5, delay=0, max_delay=0)(flaky("AccessDenied", 1))()
