"""Back-off and what is said about failing frames (remoteviz/failures.py), with the time passed in."""

from remoteviz.failures import MAX_KINDS, RELOG_INTERVAL, Backoff, KindLog


def test_a_kind_is_logged_once_then_once_per_interval_with_the_count_between() -> None:
    log = KindLog()
    assert log.should_log(("encode", "OSError: x"), 0.0) == (True, 0)
    assert [log.should_log(("encode", "OSError: x"), t) for t in (1.0, 2.0, 30.0)] == [(False, 0)] * 3
    assert log.should_log(("encode", "OSError: y"), 31.0) == (True, 0)  # another kind is news
    assert log.should_log(("encode", "OSError: x"), RELOG_INTERVAL + 0.5) == (True, 3)
    assert log.should_log(("encode", "OSError: x"), RELOG_INTERVAL + 1.0) == (False, 0)


def test_kinds_remembered_are_bounded() -> None:
    log = KindLog()
    for i in range(MAX_KINDS * 3):
        assert log.should_log(("render", f"error {i}"), float(i) / 1000)[0]
    assert log.should_log(("render", "error 0"), 1.0)[0]  # the oldest were forgotten: news again


def test_one_failure_in_three_logs_one_traceback_and_tells_viewers_at_each_episode() -> None:
    backoff, logged, told, ends = Backoff(), 0, 0, []
    now = 0.0
    for frame in range(30):
        now += 0.2
        if frame % 3 == 2:
            report = backoff.failed("encode", OSError("/srv/private/data.raw"), now)
            logged += report.log
            told += report.is_news
            assert report.detail == "OSError: /srv/private/data.raw"  # for the log only
        else:
            ends.append(backoff.succeeded())
    assert logged == 1  # not once per episode
    assert told == 10  # viewers hear of each episode
    assert ends.count((True, True)) == 1 and ends.count((True, False)) == 8  # the last failure has no end yet
