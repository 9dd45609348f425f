"""The embedded broker: kombu's file-system transport, with each message written whole before a
worker can see it. kombu creates the message file and then writes into it, so a polling worker can
read an empty file and stop with "Unrecoverable error: JSONDecodeError" (kombu#1551, open)."""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        hidden = os.path.join(self.data_folder_out, f".{name}.part")  # not "<queue>.msg": readers skip it
        with open(hidden, "wb") as fh:
            fh.write(str_to_bytes(dumps(payload)))
        os.replace(hidden, os.path.join(self.data_folder_out, name))  # atomic on one file system


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self):
        # A folder, not a host: without a default host name kombu's Connection stops warning "No
        # hostname was supplied. Reverting to default 'localhost'" every time a command publishes.
        return {"port": self.default_port}
