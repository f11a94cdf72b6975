"""URL scheme → factory, found through an entry point group: how bindings and stores reach adapter code.

``memory`` (or any built-in) is resolved without scanning entry points; everything else is loaded once from the
group the adapters register, so the core never imports a cloud SDK. Errors name the variable that holds the URL
and the schemes that are installed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def binds(factory: Any, *kinds: str) -> None:
    """Declare the resource kinds a backend factory's scheme binds (``binds(factory, "bucket")``), so a missing or
    misplaced binding lists only the schemes of its own kind (:meth:`SchemeRegistry.schemes_for`). A factory that
    declares none is taken to bind every kind."""
    factory.kinds = kinds


class SchemeRegistry:
    """Factories by URL scheme for one entry point group (``portafunc.backends``, ``portafunc.idempotency``)."""

    def __init__(self, group: str, what: str, builtins: dict[str, Callable[[], Any]],
                 error: type[Exception]) -> None:
        self.group = group
        self.what = what  # "backend", "store": used in error messages
        self._builtins = builtins  # scheme -> zero-argument loader of the factory (imports on demand)
        self._error = error
        self._factories: dict[str, Any] = {}

    def register(self, scheme: str, factory: Any) -> None:
        self._factories[scheme] = factory

    def factory(self, scheme: str, variable: str) -> Any:
        found = self._factories.get(scheme)
        if found is not None:
            return found
        if scheme in self._builtins:
            found = self._factories[scheme] = self._builtins[scheme]()
            return found
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            if ep.name == scheme:
                try:
                    found = ep.load()
                except ImportError as exc:
                    raise self._error(f"{variable} uses {scheme}:// but its {self.what} failed to import: "
                                      f"{exc}") from exc
                self._factories[scheme] = found
                return found
        raise self._error(f"{variable} uses unknown scheme {scheme}://; installed: {', '.join(self.schemes())} "
                          "(a target's schemes come with its distribution; portafunc targets lists the installed "
                          "targets)")

    def schemes_for(self, kind: str) -> list[str]:
        """The installed schemes whose factory binds ``kind`` (see :func:`binds`); one whose factory cannot be
        loaded is kept, as :meth:`schemes` lists it. Loads the factories: for error messages."""
        found = []
        for scheme in self.schemes():
            try:
                kinds = getattr(self.factory(scheme, scheme), "kinds", None)
            except Exception:  # noqa: BLE001 - installed but not loadable: still listed, its use says why
                kinds = None
            if kinds is None or kind in kinds:
                found.append(scheme)
        return found

    def schemes(self) -> list[str]:
        """The schemes that resolve here: built in, registered, or from an installed entry point."""
        from importlib.metadata import entry_points

        found = [*self._builtins, *self._factories]
        found += [ep.name for ep in entry_points(group=self.group)]
        return sorted(set(found))
