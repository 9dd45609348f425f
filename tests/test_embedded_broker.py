"""Issue 22: every command that touched the embedded (file-system) broker printed kombu's "No hostname
was supplied. Reverting to default 'localhost'" (`import_camera_traps` among them)."""

import logging

from kombu import Connection

from backend.broker import Transport


def test_the_file_system_broker_connection_warns_of_no_missing_host_name(caplog, tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    with caplog.at_level(logging.WARNING, logger="kombu"):
        with Connection("filesystem://", transport=Transport, transport_options=options) as connection:
            connection.info()
            with connection.Producer() as producer:
                producer.publish({"hello": 1}, routing_key="q", declare=[])
    assert not [r for r in caplog.records if "hostname" in r.getMessage()], caplog.text
