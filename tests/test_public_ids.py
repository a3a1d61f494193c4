"""SCIM ids (RFC 7643 §3.1 "id": unique, stable, assigned by the service provider) are UUID version 7."""

from __future__ import annotations

import time
import uuid

from portal.models import new_public_id


def test_ids_are_uuid7_with_74_random_bits_in_creation_order_rfc7643_3_1() -> None:
    first = [new_public_id() for _ in range(2000)]
    time.sleep(0.002)
    later = new_public_id()
    assert len(set(first)) == len(first)
    parsed = [uuid.UUID(value) for value in first]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(str(u) == value for u, value in zip(parsed, first, strict=True))
    # The first 48 bits are milliseconds since the epoch: now, and later ids sort after earlier ones.
    assert abs((parsed[0].int >> 80) - time.time_ns() // 1_000_000) < 5_000
    assert later > max(first)
    # The rest is random: ids of one millisecond differ far beyond the version and variant bits.
    same_ms = [u for u in parsed if u.int >> 80 == parsed[0].int >> 80]
    assert len({u.int & ((1 << 62) - 1) for u in same_ms}) == len(same_ms)
