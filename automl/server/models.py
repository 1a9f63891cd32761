"""The endpoints' models, each loaded once (its integrity checked) and kept warm for every later call."""
from __future__ import annotations

import gc
import threading

from automl import endpoints
from automl.errors import AutoMLError
from automl.server.protocol import WireError
from automl.serving import ServedModel, load_served
from automl.spec import ACCOUNT
from automl.store import Store


class Models:
    def __init__(self, store: Store):
        self.store = store
        self.urls: dict[str, str] = {}  # endpoint name -> its container-style invocations URL
        self._warm: dict[str, tuple[endpoints.Endpoint, ServedModel]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ServedModel:
        """The endpoint's model; read from the store each call, so an endpoint deleted or re-created by another
        process is seen at once (one indexed SQLite read), and loaded only when it is new."""
        endpoint = endpoints.find(self.store, name)
        if endpoint is None:
            self.drop(name)
            raise WireError("ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        warm = self._warm.get(endpoint.name.lower())
        if warm is not None and warm[0] == endpoint:
            return warm[1]
        with self._lock:  # one load per endpoint, however many calls arrive while it loads
            warm = self._warm.get(endpoint.name.lower())
            if warm is None or warm[0] != endpoint:
                try:
                    served = load_served(self.store, endpoint)
                except AutoMLError as exc:  # e.g. a model file changed since its job wrote it: never loaded
                    raise WireError("ModelError", f"the model of endpoint {name} did not load: {exc.message}", 424,
                                    OriginalStatusCode=500, OriginalMessage=exc.message) from None
                self._warm[endpoint.name.lower()] = (endpoint, served)
                # A loaded model is long-lived: moved out of the collector's view, it no longer adds to the full
                # collections that otherwise land in the slowest calls.
                gc.collect()
                gc.freeze()
            return self._warm[endpoint.name.lower()][1]

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str, str]:
        """One call in one worker thread: the model, its answer and the production variant that gave it."""
        served = self.get(name)
        answer, media = served.invoke(body, content_type, accept)
        return answer, media, served.variant

    def drop(self, name: str) -> None:
        self._warm.pop(name.lower(), None)
