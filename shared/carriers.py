"""Destination carrier groups, for pacing, metrics and bounce rules.

Japanese mobile carriers filter mail from servers (Q15); Gmail and Yahoo Japan throttle.
Grouping by the recipient's domain lets the mailer pace each group and ops read delivery
rates per carrier.
"""

from __future__ import annotations

from shared.contracts.mail import CarrierGroup

_GROUPS: dict[str, CarrierGroup] = {
    "docomo.ne.jp": "docomo",
    "docomo.blackberry.com": "docomo",
    "ezweb.ne.jp": "au",
    "au.com": "au",
    "biz.ezweb.ne.jp": "au",
    "uqmobile.jp": "au",
    "softbank.ne.jp": "softbank",
    "i.softbank.jp": "softbank",
    "disney.ne.jp": "softbank",
    "ymobile.ne.jp": "softbank",
    "y-mobile.ne.jp": "softbank",
    "vodafone.ne.jp": "softbank",
    "gmail.com": "gmail",
    "googlemail.com": "gmail",
    "yahoo.co.jp": "yahoo_japan",
    "ymail.ne.jp": "yahoo_japan",
}

CARRIER_GROUPS: tuple[CarrierGroup, ...] = (
    "docomo",
    "au",
    "softbank",
    "gmail",
    "yahoo_japan",
    "other",
)

MOBILE_CARRIERS: frozenset[CarrierGroup] = frozenset({"docomo", "au", "softbank"})


def domain_of(address: str) -> str:
    """The lower-cased domain of an address ('' when there is none)."""
    _, at, domain = address.rpartition("@")
    return domain.strip().strip(">").lower() if at else ""


def carrier_group(domain_or_address: str) -> CarrierGroup:
    """The carrier group of a domain or address; subdomains count (e.g. ``*.vodafone.ne.jp``)."""
    domain = domain_of(domain_or_address) if "@" in domain_or_address else domain_or_address
    domain = domain.lower().rstrip(".")
    while domain:
        group = _GROUPS.get(domain)
        if group is not None:
            return group
        _, _, domain = domain.partition(".")
    return "other"
