"""Pause and resume (POST /sandboxes/{id}/pause, /resume). Skipped, saying so, on a server that
does not have the routes yet; ctest runs this file as its own entry (python.sdk.pause) so the
rest of the suite shows as passed meanwhile."""

from __future__ import annotations

import pytest

from grid_sandbox import Conflict, NotFound


def test_pause_and_resume(client, image):
    with client.create(image=image) as sb:
        sb.exec("cd /tmp")
        try:
            paused = sb.pause()
        except NotFound as error:
            if "no route" in error.message:
                pytest.skip("this server has no POST /sandboxes/{id}/pause (answers 404)")
            raise
        assert paused.status == "paused" and sb.refresh().status == "paused"
        with pytest.raises(Conflict):
            sb.exec("true")  # a paused sandbox runs nothing until resumed
        assert sb.resume().status == "running"
        assert sb.exec("pwd").output == "/tmp\n"
