"""Find and import a user's App from ``module:attr``, a ``.py`` file or a project directory."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from .app import App
from .errors import PortafuncError


class AppLoadError(PortafuncError):
    """The app could not be found or imported; the message says what was tried."""


def resolve_ref(ref: str | None, project_dir: str | Path | None = None) -> tuple[Path, str]:
    """(project dir, ``module:attr``) for a reference given on the command line.

    * ``pkg.module:app`` — imported from the current directory;
    * a directory — its ``portafunc.toml``-free convention: ``main.py`` (or ``app.py``), attribute ``app``;
    * a ``.py`` file — that module, attribute ``app``;
    * nothing — ``$PORTAFUNC_APP``, else the current directory.
    """
    ref = ref or os.environ.get("PORTAFUNC_APP") or "."
    path = Path(ref)
    if ":" in ref and not path.exists():
        return (Path(project_dir).resolve() if project_dir else Path.cwd()), ref
    if path.is_dir():
        for candidate in ("main.py", "app.py", "function_app_src.py"):
            if (path / candidate).is_file():
                return path.resolve(), f"{candidate[:-3]}:app"
        raise AppLoadError(f"{ref}: no main.py or app.py here; pass MODULE:ATTR (e.g. shop.main:app)")
    if path.suffix == ".py" and path.is_file():
        return path.parent.resolve(), f"{path.stem}:app"
    raise AppLoadError(f"{ref!r} is not a directory, a .py file or MODULE:ATTR")


def load_app(ref: str | None = None, project_dir: str | Path | None = None) -> tuple[App, Path, str]:
    """Import the app; every failure is an :class:`AppLoadError` naming the reference, never a bare traceback.

    ``project_dir`` is where a ``module:attr`` reference is imported from (default: the current directory).
    """
    project, module_ref = resolve_ref(ref, project_dir)
    module_name, _, attr = module_ref.partition(":")
    attr = attr or "app"
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    try:
        __import__(module_name)  # importlib.import_module would add two Python frames under the app's whole import
        module = sys.modules[module_name]
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AppLoadError(f"cannot import {module_name!r} from {project}: no such module") from exc
        raise AppLoadError(f"importing {module_name!r} failed: missing dependency {exc.name!r}") from exc
    except PortafuncError as exc:
        raise AppLoadError(f"importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a user's module can raise anything at import
        raise AppLoadError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    app = getattr(module, attr, None)
    routers = sys.modules.get("portafunc.routers")  # a Router exists only once its module is loaded: not imported here
    is_router = routers is not None and isinstance(app, routers.Router)
    if not isinstance(app, App) or is_router:
        raise AppLoadError(f"{module_name}:{attr} is {'missing' if app is None else type(app).__name__}, "
                           "not a portafunc.App" + ("; include it in one with app.include_router(...)"
                                                    if is_router else ""))
    return app, project, f"{module_name}:{attr}"


#: Set to ``on`` to keep the cyclic garbage collector running while a deployed entry imports the app (see
#: :func:`load_deployed_app`).
GC_DURING_LOAD = "PORTAFUNC_GC_DURING_LOAD"


def load_deployed_app(ref: str | None = None, project_dir: str | Path | None = None) -> tuple[App, Path, str]:
    """:func:`load_app` for a deployed entry, which loads the app once per cold start and keeps it: the cyclic
    garbage collector is paused while the app is imported, and what the import built is then frozen
    (``gc.freeze()``), so later collections skip it.

    Importing a web framework or many pydantic models allocates tens of thousands of long-lived objects, and
    every full collection during that import walks all of them again: a tenth to a fifth of a FastAPI app's import
    on the benchmark machine, for a few hundred objects of garbage. Frozen objects are still freed by reference
    counting; only cyclic garbage made while the app is imported stays until the process ends. The local runner
    and the build tools call :func:`load_app` (an app reloaded there would be kept frozen);
    ``PORTAFUNC_GC_DURING_LOAD=on`` turns the pause off here too. A collector the process disabled stays so."""
    if os.environ.get(GC_DURING_LOAD, "").strip().lower() in ("on", "1", "true", "yes") or not gc.isenabled():
        return load_app(ref, project_dir)
    gc.disable()
    try:
        loaded = load_app(ref, project_dir)
    finally:
        gc.enable()
    gc.freeze()  # only after a load that succeeded: a failed one is not kept
    return loaded
