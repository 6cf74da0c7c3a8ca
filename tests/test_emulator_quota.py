"""The emulator's own quota accounting, on a fake clock (issue #11): the tests of the
client's pacing trust it, so it is tested without any timing."""

from __future__ import annotations

from rcsqualify.emulator.state import EmulatorConfig, EmulatorState


def state(**config: object) -> tuple[EmulatorState, list[float]]:
    now = [100.0]
    cfg = EmulatorConfig()
    cfg.update(config)
    return EmulatorState(cfg, clock=lambda: now[0]), now


def test_window_quota_admits_the_quota_per_second_and_no_more() -> None:
    s, now = state(quota=5, quota_grace=0.0)
    verdicts = []
    for _ in range(7):
        verdicts.append(s.admit("bothub"))
        now[0] += 0.01
    assert verdicts == [True] * 5 + [False] * 2
    now[0] += 1.0  # the window has moved on
    assert s.admit("bothub")
    assert s.throttled["bothub"] == 2 and s.requests["bothub"] == 8


def test_window_quota_is_per_family() -> None:
    s, _ = state(quota=1, quota_grace=0.0)
    assert s.admit("bothub") and s.admit("mnp") and not s.admit("bothub")


def test_spike_arrest_refuses_arrivals_closer_than_the_interval_less_grace() -> None:
    s, now = state(quota=10, spike_arrest=True, quota_grace=0.01)  # interval 100 ms
    assert s.admit("rbm")
    now[0] += 0.095  # within the 10 ms grace: admitted
    assert s.admit("rbm")
    now[0] += 0.085  # 85 ms: too close
    assert not s.admit("rbm")
    now[0] += 0.1
    assert s.admit("rbm")
    assert s.throttled["rbm"] == 1


def test_forced_429s_come_first() -> None:
    s, _ = state(quota=1000, force_429=2)
    assert [s.admit("bothub") for _ in range(3)] == [False, False, True]


def test_max_in_window_in_the_stats() -> None:
    s, now = state(quota=1000, quota_grace=0.0)
    for _ in range(10):
        s.admit("bothub")
        now[0] += 0.05  # 20 per second
    assert s.stats()["max_in_window"]["bothub"] == 10  # all within 0.5 s
