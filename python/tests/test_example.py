"""examples/rollout.py runs as documented: 32 episodes against the test server (which runs 16
sandboxes at once, so half of the starts wait in its queue), and removes every sandbox."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "rollout.py"


def test_rollout_example(server, client):
    env = dict(os.environ, GRID_SERVER=server.url, GRID_TOKEN=server.token,
               PYTHONPATH=str(EXAMPLE.parents[1] / "python"))
    run = subprocess.run([sys.executable, str(EXAMPLE), server.image], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("32 episodes, mean reward ")
    assert client.list() == []
