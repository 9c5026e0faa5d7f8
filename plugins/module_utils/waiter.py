# -*- coding: utf-8 -*-
# Copyright: aurora.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base of every waiter in the collection."""

from ansible_collections.amazon.aws.plugins.module_utils.waiter import BaseWaiterFactory


class WaiterFactory(BaseWaiterFactory):
    """amazon.aws's waiters retry Throttling and RequestLimitExceeded, but not ThrottlingException, the
    code Directory Service and ds-data throttle with: without it a throttled poll ends the wait."""

    def _inject_ratelimit_retries(self, model_data):
        data = super()._inject_ratelimit_retries(model_data)
        for waiter in data.values():
            waiter["acceptors"].append(dict(state="retry", matcher="error", expected="ThrottlingException"))
        return data
