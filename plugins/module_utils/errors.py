# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type the engines raise for bad input or a failed action."""

from __future__ import annotations


class PgdockError(Exception):
    """Bad input or a failed action; the message is written for the operator (fail_json msg).

    `details` carries extra result keys (e.g. log lines) returned alongside the message.
    """

    def __init__(self, msg: str, **details):
        super().__init__(msg)
        self.details = details
