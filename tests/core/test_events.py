"""A verdict's Events are named after their run, and re-derived from the recorded status."""

from __future__ import annotations

from releaseguard.api.status import status_from_wire
from releaseguard.core.events import event_name, verdict_events
from support.driver import FAIL, PASS, Driver
from support.factories import deployment, rv_body


def test_the_verdict_events_re_derived_from_the_status_are_the_ones_posted_with_the_same_names() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    plan = driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    status = status_from_wire(driver.status)
    derived = verdict_events(status, "shop", "shop")
    posted = [e for e in plan.events]
    assert [(e.reason, e.on) for e in derived] == [(e.reason, e.on) for e in posted]
    assert [e.message for e in derived] == [e.message for e in posted]
    names = {event_name("shop", "uid-1", status, e) for e in derived}
    assert None not in names and len(names) == len(derived)  # one name per reason and object
    again = status_from_wire(driver.status)
    assert {event_name("shop", "uid-1", again, e) for e in derived} == names  # the same after a restart
    # the next run's Events get other names
    driver.verify(deployment(revision=3, image="shop:1.0"), PASS)
    later = status_from_wire(driver.status)
    assert not {event_name("shop", "uid-1", later, e) for e in verdict_events(later, "shop", "shop")} & names
