"""pytest plugin (entry point ``mapisync``): the ``mapisync_host`` fixture for provider authors.

    def test_my_provider(mapisync_host):
        result = mapisync_host.run("build/my_provider.so:MapiSyncGetObject", cancel_after=3)
        assert result.hresult == MAPI_E_USER_CANCEL

``run`` plays Outlook's part through :func:`mapisync_ctypes.run_sync` and fails the
test on any protocol violation unless ``allow_violations=True``. ``check`` puts a native
provider through every host behaviour (``mapisync check``) and fails the test on any
finding, listing each with the command that reproduces it.

Registering the fixture costs nothing: this module imports no part of the library, which
loads only when a test asks for the fixture. An unrelated pytest run in an environment
where mapisync_ctypes is installed never pays for it.
"""

from typing import TYPE_CHECKING, Any, Union

import pytest

__all__ = ["MapisyncHost", "mapisync_host"]

if TYPE_CHECKING:
    from ..com.comobject import COMObject
    from ..com.proxy import Proxy
    from ..sync.conformance import CheckReport
    from ..sync.host import SyncResult


class MapisyncHost:
    """What the ``mapisync_host`` fixture gives a test."""

    def load(self, spec: str) -> "Proxy":
        """IMAPISync from ``"library:Symbol"`` (a native factory)."""
        from ..sync.factory import load_factory

        return load_factory(spec)

    def run(self, provider: Union[str, int, "Proxy", "COMObject"], *, allow_violations: bool = False,
            **options: Any) -> "SyncResult":
        """One sync; ``provider`` may be "library:Symbol", an address, a proxy or a COMObject.
        ``options`` go to run_sync (flags, session, timeout, cancel_after, on_event)."""
        from ..sync.host import run_sync

        if isinstance(provider, str):
            with self.load(provider) as proxy:
                result = run_sync(proxy, **options)
        else:
            result = run_sync(provider, **options)
        if result.violations and not allow_violations:
            pytest.fail("the provider broke the background-sync protocol:\n  - "
                        + "\n  - ".join(result.violations), pytrace=False)
        return result

    def check(self, target: str, *, quick: bool = False, allow_findings: bool = False,
              **options: Any) -> "CheckReport":
        """Check the native provider ``target`` ("library:Symbol") against every rule, each
        scenario in a child process; ``options`` go to check_provider (timeout, jobs, only, env).
        Fails the test on any finding unless ``allow_findings=True``; returns the report."""
        from ..sync.conformance import check_provider

        report = check_provider(target, quick=quick, **options)
        if report.findings and not allow_findings:
            pytest.fail(f"{target} breaks the background-sync protocol:\n\n"
                        + "\n\n".join(f"{n}. {f.describe()}" for n, f in enumerate(report.findings, 1)),
                        pytrace=False)
        return report


@pytest.fixture
def mapisync_host() -> MapisyncHost:
    """Runs background syncs against a provider as a MAPI host would, checking the protocol."""
    return MapisyncHost()
