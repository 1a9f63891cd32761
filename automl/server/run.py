"""The server process: the control plane and runtime on one port, and each InService endpoint's model on a
port of its own (from --model-port-base up), all on one event loop served by uvicorn."""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys

import uvicorn

from automl import endpoints
from automl.api import Client
from automl.server.app import control_app, model_app
from automl.server.models import Models
from automl.server.signing import access_keys

WATCH_S = 1.0  # how often the store is read for endpoints deployed or deleted by other processes
PORT_TRIES = 100
GRACE_S = 5
# Predictions run in worker threads while the event loop answers: with Python's default 5 ms interval a thread
# that has work waits up to 5 ms for the other to hand over the GIL, a third of a one-row InvokeEndpoint.
SWITCH_INTERVAL_S = 0.0005

log = logging.getLogger("automl.server")


class _ModelServer(uvicorn.Server):
    """A per-model server leaves the signals to the control server, which ends it on shutdown."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, first: int) -> socket.socket:
    for port in range(first, first + PORT_TRIES):
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
        # a response written as headers then body waits out the client's 40 ms delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise OSError(f"no free port for a model server in {first}..{first + PORT_TRIES - 1}")


class Serving:
    def __init__(self, host: str, port: int, model_port_base: int, client: Client, keys: dict[str, str]):
        self.host, self.port, self.model_port_base = host, port, model_port_base
        self.client, self.keys = client, keys
        self.models = Models(client.store)
        self.model_servers: dict[str, tuple[endpoints.Endpoint, _ModelServer, asyncio.Task]] = {}

    def _config(self, app) -> uvicorn.Config:
        # A shutdown waits at most GRACE_S for requests in flight, then closes what is left (an idle keep-alive
        # connection must not keep the server alive after Ctrl-C or SIGTERM).
        return uvicorn.Config(app, host=self.host, log_level="warning", access_log=False, lifespan="off",
                              timeout_keep_alive=30, timeout_graceful_shutdown=GRACE_S)

    async def run(self) -> None:
        control = uvicorn.Server(self._config(control_app(self.client, self.models, self.keys)))
        sock = _bind(self.host, self.port) if self.port else _bind(self.host, 0)
        self.port = sock.getsockname()[1]
        watcher = asyncio.create_task(self._watch(control))
        print(f"automl serve: http://{self.host}:{self.port} (store {self.client.store.root}; signatures "
              f"{'verified for ' + str(len(self.keys)) + ' access keys' if self.keys else 'accepted unverified'})",
              file=sys.stderr, flush=True)
        try:
            await control.serve(sockets=[sock])
        finally:
            watcher.cancel()
            for _, server, _task in self.model_servers.values():
                server.should_exit = True
            await asyncio.gather(*(t for _, _, t in self.model_servers.values()), return_exceptions=True)

    async def _watch(self, control: uvicorn.Server) -> None:
        while not control.should_exit:
            try:
                current = {e.name: e for e in await asyncio.to_thread(endpoints.every, self.client.store)
                           if e.status == endpoints.IN_SERVICE}
            except Exception:  # the store being busy or briefly unreadable must not end the server
                log.exception("reading the endpoints failed")
                current = None
            if current is not None:
                self._sync(current)
            await asyncio.sleep(WATCH_S)

    def _sync(self, current: dict[str, endpoints.Endpoint]) -> None:
        for name, (endpoint, server, _task) in list(self.model_servers.items()):
            if current.get(name) != endpoint:
                server.should_exit = True
                del self.model_servers[name]
                self.models.urls.pop(name, None)
                self.models.drop(name)
        for name, endpoint in current.items():
            if name in self.model_servers:
                continue
            sock = _bind(self.host, self.model_port_base)
            server = _ModelServer(self._config(model_app(self.models, name)))
            task = asyncio.create_task(server.serve(sockets=[sock]))
            self.model_servers[name] = (endpoint, server, task)
            url = f"http://{self.host}:{sock.getsockname()[1]}/invocations"
            self.models.urls[name] = url
            print(f"automl serve: endpoint {name} (job {endpoint.job}): {url}", file=sys.stderr, flush=True)


def serve(host: str = "127.0.0.1", port: int = 8080, model_port_base: int | None = None) -> None:
    """Blocks until interrupted (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    keys = access_keys()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if not is_loopback(host) and not keys:
        print(f"automl serve: WARNING: listening on {host}, reachable from other machines, and every signature is "
              "accepted: set AUTOML_ACCESS_KEYS to require your keys", file=sys.stderr)
    base = model_port_base if model_port_base is not None else (port + 1 if port else 0)
    serving = Serving(host, port, base, Client(), keys)
    asyncio.run(serving.run())
