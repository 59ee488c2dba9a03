"""What keeps one fmnist-serve process bounded whatever its clients send or fail to send.

- **Headers in time.** uvicorn (0.55) times out only the idle time between two requests
  (``timeout_keep_alive``), and any byte received restarts it: a connection that never completes
  its request headers (an idle socket; a slowloris sending a byte a second) was held for ever,
  a file descriptor each, of the 1,024 a Raspberry Pi OS process may open.
  :class:`.protocol.HeaderDeadline` closes a connection whose next request's headers have not
  all arrived ``--header-timeout`` seconds after it opened or after its last answer.
- **Bodies in time and in budget.** A body must arrive within ``--body-timeout`` (408), and
  the bodies being received or waiting for a worker thread may hold ``BODY_BUDGET_BODIES`` ×
  ``--max-body`` bytes in all (then 429 with Retry-After, the body read and dropped): 64
  clients uploading 8 MB at once would otherwise hold 512 MB.
- **Large decodes one at a time.** Each upload's header is measured before any thread takes it
  (:meth:`.service.Service.measure`): over ``--max-pixels`` is 413 without decoding, and
  uploads of LARGE_PIXELS or more queue for a lane of their own, one decode at a time, so the
  worker threads' decodes stay small and the good requests never wait behind them.
"""

from __future__ import annotations

BODY_BUDGET_BODIES = 4  # bodies of --max-body bytes held at once per process (32 MB at 8M)
# An upload counting this many pixels (4 MB of decoder memory) or more takes the large lane:
# a phone JPEG (300×225 for 1200×900, 504×378 for 12 MP) never does, a 1,000×1,000 PNG does.
LARGE_PIXELS = 1_000_000


class BodyBudget:
    """Bytes of request bodies this process holds, against a budget; used from the event loop only."""

    def __init__(self, budget: int) -> None:
        self.budget, self.held = budget, 0

    def take(self, size: int) -> bool:
        """Hold ``size`` more bytes if the budget allows (True), else nothing (False)."""
        if self.held + size > self.budget:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        """Release ``size`` bytes taken before."""
        self.held -= size
