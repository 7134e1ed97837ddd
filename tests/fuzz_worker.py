"""A long-lived `leaderboard` process for the fuzz tests (tests/test_fuzz_inputs.py): reads one JSON argv per line on
stdin, runs the real CLI entry point (``leaderboard.cli.main``) on it, and answers one JSON line: the exit code, what
it printed, and a traceback if an exception escaped. The parent starts it with a memory limit (RLIMIT_AS) and kills
it when an answer takes too long, so a hang or a memory blow-up is a failure, never a stuck suite. One process for
all examples: importing torch and transformers once, not once per example."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback


def main() -> None:
    out = sys.stdout
    from leaderboard.cli import main as cli

    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        argv = json.loads(line)
        stdout, stderr = io.StringIO(), io.StringIO()
        rc, tb = None, None
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = cli(argv)
        except SystemExit as e:  # argparse's usage errors
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException:  # noqa: BLE001 - what the test is looking for
            tb = traceback.format_exc()
        print(json.dumps({"rc": rc, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "traceback": tb}),
              file=out, flush=True)


if __name__ == "__main__":
    main()
