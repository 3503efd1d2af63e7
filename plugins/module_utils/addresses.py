# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IP addresses in the text the modules read and write (pg_hba.conf rules, certificate SANs)."""

from __future__ import annotations

import ipaddress


def is_ip(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (not a network, not a host name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
