"""Every action of the access policy (projects/policy.py) is reached by the permission matrices.

Each matrix request records the actions it asked the policy about (tests/matrix.py). At the end of
a run of the whole suite, every process's record is gathered (pytest-xdist hands each worker's
`workeroutput` to the controller) and the run fails if an action was never asked about: a rule no
route's matrix tests, which a new action with no row would be. A partial run (some files, -k, -m)
checks nothing, since the routes that reach an action may not have run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from projects import policy
from tests import matrix

_reached: set[str] = set()


def _whole_suite(config: pytest.Config) -> bool:
    if config.option.keyword or config.option.markexpr or config.getoption("deselect", None):
        return False
    tests_root = Path(__file__).resolve().parent
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [tests_root]
    return all(path in (tests_root, tests_root.parent) for path in paths)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: hand the record to the controller
        workeroutput["policy_actions"] = sorted(matrix.ACTIONS_REACHED)
        return
    _reached.update(matrix.ACTIONS_REACHED)
    if exitstatus != 0 or not _whole_suite(session.config):
        return
    missing = sorted(set(policy.ACTIONS) - _reached)
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"policy coverage: {len(missing)} action(s) of projects/policy.py were never checked by a "
            f"permission-matrix request: {', '.join(missing)}. Add the routes that need them to a matrix."
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    _reached.update(getattr(node, "workeroutput", {}).get("policy_actions", []))
