"""The one fake time of the tests: a monotonic clock, a wall clock and a sleep that waits for
nothing.

Code under test takes these as arguments (``Context.clock``/``wall``/``sleep``, chalicelib's
``Database(clock=...)``, the host's ``wait_for_database(sleep=..., clock=...)``), so a poll loop
that would wait minutes runs at once and the test can say how long it would have waited.
"""

# 2026-01-01T00:00:00Z: a date a test can type in, far from the epoch so no "ago" is negative.
WALL_START = 1_767_225_600.0


class FakeClock:
    """``sleep`` records each call and moves both clocks on by it; ``advance`` moves them
    without a sleep (a connect that hangs, a user who waits).

    ``on_sleep(clock)``, if given, runs after each sleep: the world changing while the command
    waits (a new log line), or Ctrl-C (raise ``KeyboardInterrupt``).
    """

    def __init__(self, now=1000.0, *, wall=WALL_START, on_sleep=None):
        self.now = now
        self.sleeps = []
        self._wall_offset = wall - now
        self._on_sleep = on_sleep

    def monotonic(self):
        return self.now

    def wall(self):
        """Seconds since the epoch, as ``time.time`` gives them."""
        return self.now + self._wall_offset

    def advance(self, seconds):
        self.now += seconds

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self._on_sleep is not None:
            self._on_sleep(self)
