"""Issue 22: `identify` against a server that does not answer waited 8 s, then quietly queued the photo.
It now says at once which server it could not reach and how to set another, then queues."""

import socket
import time

from mobile_client_stub import cli
from mobile_client_stub.queue import Config, OfflineQueue
from tests.mobile_client_stub.test_photos_and_queue import _jpeg


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on leaving: nothing listens there


def test_identify_says_at_once_which_server_it_could_not_reach_then_queues(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RANGEWATCH_SERVER", raising=False)
    photo = _jpeg(tmp_path / "fox.jpg", size=(64, 48))
    server = f"http://127.0.0.1:{_closed_port()}"
    config = tmp_path / "config.json"

    started = time.monotonic()
    code = cli.main(
        [
            "--server",
            server,
            "--token",
            "t",
            "--config",
            str(config),
            "identify",
            str(photo),
            "--lat",
            "1",
            "--lon",
            "2",
        ]
    )
    took = time.monotonic() - started

    err = capsys.readouterr().err
    assert code == cli.EXIT_UNAVAILABLE
    assert took < 3, f"{took:.1f} s before saying anything"
    assert f"could not reach the server at {server}" in err, err
    assert "--server" in err and "RANGEWATCH_SERVER" in err, err
    assert "queued as" in err
    assert len(OfflineQueue.for_config(Config(config).path).items()) == 1
