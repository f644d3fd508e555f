"""The refusal log's rate limit, alone."""

import logging
import time

from remoteviz.audit import Audit


def test_lines_beyond_the_burst_are_counted_and_the_count_is_logged_later(caplog) -> None:
    audit = Audit(rate=5.0, burst=3.0)
    with caplog.at_level(logging.WARNING, logger="remoteviz.audit"):
        for i in range(20):
            audit.refused("10.0.0.1", f"reason {i}")
        assert len(caplog.records) == 3
        time.sleep(0.3)  # a line's worth of rate comes back
        audit.protocol_error("10.0.0.2", "bad")
    assert len(caplog.records) == 4
    assert caplog.records[-1].getMessage() == "protocol error from 10.0.0.2: bad (and 17 more lines not logged)"
