# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The retry decorator every AWS call of the collection uses."""

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# amazon.aws retries Throttling and RequestLimitExceeded but not ThrottlingException, the code
# Directory Service and ds-data throttle with (AWS_FACTS.md section 7).
THROTTLING_CODES = ["ThrottlingException"]


def jittered_backoff(catch_extra_error_codes=None, **kwargs):
    """AWSRetry.jittered_backoff that also retries ThrottlingException."""
    return AWSRetry.jittered_backoff(catch_extra_error_codes=THROTTLING_CODES + list(catch_extra_error_codes or []),
                                     **kwargs)
