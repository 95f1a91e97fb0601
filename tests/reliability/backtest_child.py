"""Child process of the resume test: the real ``tengri`` CLI, which SIGKILLs itself at a chosen point.

Run as ``python backtest_child.py <bar> <where> <tengri arguments...>``. With ``bar`` >= 0 the
process kills itself with SIGKILL when the replay reaches that bar, at ``where``: ``tick``
(after the engine processed and the journal recorded the bar, before anything is flushed),
``journal`` (inside a checkpoint, after the journal's flush and before the engine's checkpoint)
or ``engine`` (right after the engine's checkpoint). Nothing is cleaned up: no handler runs, as
on a crash. With ``bar`` < 0 it is the plain CLI.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from tengri import cli
from tengri.services import replay


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    kill_bar, where, *args = sys.argv[1:]
    bar_to_kill = int(kill_bar)
    if bar_to_kill >= 0:
        step, flush, checkpoint = replay._Replay.step, replay.RunJournal.flush, replay._Replay.checkpoint
        current = {"bar": -1}

        def killing_step(self: replay._Replay, bar: int) -> dict[str, Any]:
            current["bar"] = bar
            result = step(self, bar)
            if where == "tick" and bar == bar_to_kill:
                _die()
            return result

        def killing_flush(self: replay.RunJournal) -> None:
            flush(self)
            if where == "journal" and current["bar"] >= bar_to_kill:
                _die()

        def killing_checkpoint(self: replay._Replay) -> None:
            checkpoint(self)
            if where == "engine" and current["bar"] >= bar_to_kill:
                _die()

        replay._Replay.step = killing_step  # type: ignore[method-assign]
        replay.RunJournal.flush = killing_flush  # type: ignore[method-assign]
        replay._Replay.checkpoint = killing_checkpoint  # type: ignore[method-assign]
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
