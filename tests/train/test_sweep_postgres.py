"""fmnist-sweep on a real PostgreSQL server (Debian's postgresql, a throwaway cluster per module).

A study there matches the same plan on SQLite trial for trial, and each way of failing to open
the storage is one line naming the fix, exit 2, nothing written, the password never shown.
"""

import json
import subprocess
import sys
import time

import pytest

pytest.importorskip("optuna")
pytest.importorskip("psycopg")

from fmnist_edge.train.sweep import cli as sweep_cli  # noqa: E402
from fmnist_edge.train.sweep import run as sweep_run  # noqa: E402
from fmnist_edge.train.sweep.study import SweepConfig  # noqa: E402

from .postgres import DATABASE, PASSWORD, USER, PostgresServer  # noqa: E402
from .test_sweep import Interrupt  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    with PostgresServer() as server:
        yield server
    assert not server.folder.exists()


def _trials(report: dict) -> list[tuple]:
    return sorted((json.dumps(t["overrides"], sort_keys=True), t["value"]) for t in report["trials"])


def test_a_study_on_postgresql_equals_the_same_plan_on_sqlite(postgres, tmp_path):
    runs = {}
    for name, url in (("postgres", postgres.url), ("sqlite", f"sqlite:///{tmp_path / 'sweep.db'}")):
        config = SweepConfig(names=("filters", "activation"), epochs=1, storage=url,
                             study="same-plan")
        runs[name] = sweep_run.run_sweep(config, tmp_path / name, Interrupt())
    # the baseline with 3 seeds, filters 8/16/64/128, activation elu/tanh/sigmoid
    assert _trials(runs["postgres"]) == _trials(runs["sqlite"]) and len(runs["sqlite"]["trials"]) == 10
    report = (tmp_path / "postgres" / "sweep.json").read_text()
    assert PASSWORD not in report and f"{USER}:***@" in report


def _url(postgres, password=PASSWORD, port=None, database=DATABASE) -> str:
    return f"postgresql://{USER}:{password}@127.0.0.1:{port or postgres.port}/{database}"


@pytest.mark.parametrize("case, fragment", [
    ("password", "wrong user or password for fmnist"),
    ("database", "database 'missing' does not exist on 127.0.0.1:"),
    ("server", "no PostgreSQL server answers at 127.0.0.1:1:"),
])
def test_each_failure_to_open_is_one_line_exit_2_and_writes_nothing(postgres, tmp_path, capsys,
                                                                    case, fragment):
    url = {"password": _url(postgres, password="wrong-password"),
           "database": _url(postgres, database="missing"), "server": _url(postgres, port=1)}[case]
    out = tmp_path / "out"
    assert sweep_cli.main(["--storage", url, "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fmnist-sweep: error: cannot open --storage")
    assert fragment in err and PASSWORD not in err and "wrong-password" not in err, err
    assert not out.exists()


def test_a_missing_driver_names_the_extra(postgres, tmp_path):
    """As without the [postgres] extra: psycopg cannot be imported."""
    code = ("import sys; sys.modules['psycopg'] = None; sys.modules['psycopg2'] = None\n"
            "from fmnist_edge.train.sweep.cli import main\n"
            f"sys.exit(main(['--storage', {postgres.url!r}, '--out', {str(tmp_path / 'out')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("fmnist-sweep")]
    assert lines == [f"fmnist-sweep: error: cannot open --storage {postgres.url.replace(PASSWORD, '***')}: "
                     "the PostgreSQL driver is not installed: pip install 'fmnist-edge[postgres]'"]
    assert not (tmp_path / "out").exists()


def test_the_server_is_stopped_and_removed_also_when_a_test_fails():
    with pytest.raises(RuntimeError, match="a failing test"):
        with PostgresServer() as server:
            folder, port = server.folder, server.port
            assert server.running()
            raise RuntimeError("a failing test")
    assert not folder.exists()
    left = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout
    assert left == ""
    import socket

    with socket.socket() as probe:  # nothing listens on its port any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_any_machine_writes_the_report_of_a_shared_study_without_training(postgres, tmp_path, capsys):
    config = SweepConfig(names=("filters", "activation"), epochs=1, storage=postgres.url,
                         study="to-report")
    ran = sweep_run.run_sweep(config, tmp_path / "ran", Interrupt())
    argv = ["--params", "filters,activation", "--epochs", "1", "--storage", postgres.url,
            "--study", "to-report", "--out", str(tmp_path / "other"), "--report-only"]
    assert sweep_cli.main(argv) == 0  # no trainer at all: a trial would need TensorFlow and data
    other = json.loads((tmp_path / "other" / "sweep.json").read_text())
    assert _trials(other) == _trials(ran) and (tmp_path / "other" / "sweep.md").is_file()
    assert PASSWORD not in capsys.readouterr().out
    again = sweep_run.report_study(config, tmp_path / "again")  # nothing was added or changed
    assert _trials(again) == _trials(ran)


@pytest.mark.parametrize("storage, fragment", [
    ("postgres", "no study 'never-run' in postgresql://fmnist:***@127.0.0.1:"),
    ("sqlite", "does not exist (run the sweep first"),
])
def test_report_only_of_a_study_that_is_not_there(postgres, tmp_path, capsys, storage, fragment):
    url = postgres.url if storage == "postgres" else f"sqlite:///{tmp_path / 'none' / 'sweep.db'}"
    out = tmp_path / "out"
    assert sweep_cli.main(["--storage", url, "--study", "never-run", "--out", str(out),
                           "--report-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert not out.exists() and not (tmp_path / "none").exists()


PLAN = ["--params", "filters", "--set", "filters=8,16,64", "--epochs", "1", "--heartbeat", "1",
        "--baseline-seeds", "1"]  # one baseline seed: 4 real trials are enough to kill and resume


def _sweep_command(url: str, out) -> list[str]:
    return [sys.executable, "-m", "fmnist_edge.train.sweep.cli", *PLAN, "--storage", url,
            "--study", "two-machines", "--out", str(out)]


def _machine(url: str, folder) -> subprocess.Popen:
    """One machine's fmnist-sweep: a working folder of its own, its report under it."""
    folder.mkdir(exist_ok=True)
    return subprocess.Popen(_sweep_command(url, folder / "reports"), cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _study(url: str):
    import optuna

    return optuna.load_study(study_name="two-machines", storage=url)


def test_two_sweeps_share_a_study_one_is_killed_and_resumed_and_it_matches_sqlite(postgres, tmp_path):
    """Two separate fmnist-sweep processes (machines A and B) on one study; A is SIGKILLed in
    the middle of a trial and started again with the same command. Real training (4 trials of
    1 epoch); heartbeat 1 s, so B fails the dead trial after 3 s and queues it again."""
    import optuna

    state = optuna.trial.TrialState
    procs = {name: _machine(postgres.url, tmp_path / name) for name in ("a", "b")}
    try:
        victim = procs["a"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # until A is training a trial of its own
            try:
                running = _study(postgres.url).get_trials(deepcopy=False, states=(state.RUNNING,))
            except KeyError:  # the study is not created yet
                running = []
            mine = [t for t in running if t.user_attrs.get("worker_pid") == victim.pid]
            if mine:
                break
            assert victim.poll() is None, victim.stderr.read()[-2000:]
            time.sleep(0.2)
        assert mine, "machine A never started a trial"
        killed = mine[0].user_attrs["overrides"]
        victim.kill()
        victim.wait(30)
        procs["a"] = _machine(postgres.url, tmp_path / "a")  # the same command, started again
        for name, proc in procs.items():
            assert proc.wait(600) == 0, f"{name}: {proc.stderr.read()[-2000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    trials = _study(postgres.url).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == state.COMPLETE]
    failed = [t for t in trials if t.state == state.FAIL]
    planned = [{}, {"filters": 8}, {"filters": 16}, {"filters": 64}]
    assert sorted(json.dumps(t.user_attrs["overrides"]) for t in done) == \
        sorted(json.dumps(p) for p in planned)  # every planned trial finished exactly once
    assert [t.user_attrs["overrides"] for t in failed] == [killed]  # the killed one, retried
    alone = subprocess.run(_sweep_command(f"sqlite:///{tmp_path / 'alone.db'}", tmp_path / "alone"),
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert alone.returncode == 0, alone.stderr[-2000:]
    shared = {json.dumps(t.user_attrs["overrides"]): t.value for t in done}
    single = {json.dumps(t.user_attrs["overrides"]): t.value
              for t in _study(f"sqlite:///{tmp_path / 'alone.db'}").get_trials(
                  deepcopy=False, states=(state.COMPLETE,))}
    assert shared == single  # training is deterministic per seed: the same trials, the same values
    for name in ("a", "b"):  # each machine wrote its report from its own folder
        assert (tmp_path / name / "reports" / "sweep.json").is_file(), name
