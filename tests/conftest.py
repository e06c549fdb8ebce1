import os
import sys
import tempfile

# Keep the episode-index cache of the test run away from the user's cache.
os.environ.setdefault("GYM_LANGREARRANGE_CACHE", tempfile.mkdtemp(prefix="glr-test-cache-"))
# render_mode="human" without a display writes its view here, not into the checkout (check_env tries every mode)
os.environ.setdefault("GYM_LANGREARRANGE_VIEW", os.path.join(tempfile.mkdtemp(prefix="glr-test-view-"), "view.png"))


def pytest_terminal_summary(terminalreporter):
    """The fault-injection tally of tests/test_faults.py (issue 19): how many faults, and that none lost data."""
    faults = sys.modules.get("test_faults") or sys.modules.get("tests.test_faults")
    if faults is None or not faults.FAULTS:
        return
    failed = [r.nodeid for r in terminalreporter.stats.get("failed", []) if "test_faults" in r.nodeid]
    terminalreporter.write_sep("-", "fault injection")
    for kind, count in sorted(faults.FAULTS.items()):
        terminalreporter.write_line(f"{count:5d}  {kind}")
    verdict = "nothing finished was lost" if not failed else f"FAILED: {', '.join(failed)}"
    terminalreporter.write_line(f"{sum(faults.FAULTS.values()):5d}  faults injected in all; {verdict}")
