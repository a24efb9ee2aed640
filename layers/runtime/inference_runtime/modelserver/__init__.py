"""One model server per execution environment: workers send token ids, one session batches for all.

On Lambda Managed Instances an environment runs many Python worker processes; with
MODEL_SERVER=shared they hold no session: the first to need one starts the server
(``server``), all connect to its Unix socket in /tmp (``client.ServerSession``), and its
queue batches their requests by tokens (``batching``). The wire format is ``protocol``;
where the files live is ``endpoint``. See docs/workers.md.

Importing this package imports nothing heavy; the server's and the client's modules are
imported when used.
"""

from .errors import ModelServerError, ModelServerUnavailableError, ProtocolError, RemoteRunError

__all__ = ["ModelServerError", "ModelServerUnavailableError", "ProtocolError", "RemoteRunError"]
