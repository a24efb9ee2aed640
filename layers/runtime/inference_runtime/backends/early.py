"""Start importing the inference libraries first thing in init, before the handler's own imports.

numpy, onnxruntime and tokenizers take most of an init's imports (~150 ms of the ~200 on
a 2-core machine). The loader imports them once it has read the manifest, which needs
the handler's own modules first (the service, the cache, the manifest's types). Starting
the same imports on a thread at the top of the handler means the libraries are already
on their way while those modules load; the loader's own ``import_libraries()`` then finds
them imported, or waits on the import lock for the thread to finish them.

It only imports: nothing is opened or verified here. A setting that does not parse is left
for the loader to report (it reads the same settings and raises the ConfigError with the
fix); a backend that could not be imported raises again, with its reason, in the loader.
"""

from __future__ import annotations

import importlib
import os
import threading

from lambda_shared.env import MODEL_SERVER, PRELOAD_MODEL

#: What each MODEL_SERVER mode's backend imports in ``import_libraries()`` (OnnxBackend,
#: RemoteBackend); tests/unit/test_early_import.py holds the two equal. Importing the
#: backend modules here instead would bring the handler's own modules in before these.
LIBRARIES = {"off": ("numpy", "onnxruntime", "tokenizers"), "shared": ("numpy", "tokenizers")}


def start_backend_import(environ: dict[str, str] | None = None) -> threading.Thread:
    """Import the backend's libraries on a daemon thread; returns it (joining it is optional)."""
    thread = threading.Thread(target=_import_libraries, args=(libraries_for(environ),),
                              name="early-import", daemon=True)
    thread.start()
    return thread


def libraries_for(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The libraries the loader will import under these settings (none when the model loads on demand).

    Settings are read leniently: a value the config refuses is the loader's to report.
    """
    env = os.environ if environ is None else environ
    if env.get(PRELOAD_MODEL, "").strip().lower() in ("0", "false", "no", "off"):
        return ()  # the model loads on the first request; so do its libraries
    return LIBRARIES.get(env.get(MODEL_SERVER, "").strip().lower() or "off", LIBRARIES["off"])


def _import_libraries(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # nosec B112: the loader imports again and reports the failure with its reason
            return
