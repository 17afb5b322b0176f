from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_handlers_on_closed_streams():
    """A tool run in-process (Hydra configures logging) leaves a root handler on the test's captured stderr, which
    pytest closes afterwards: later log lines would end in 'Logging error' tracebacks instead of the log."""
    import logging

    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        stream = getattr(handler, "stream", None)
        if stream is not None and getattr(stream, "closed", False):
            root.removeHandler(handler)


# a tiny flow net: fast enough for every video-tool test, the same code paths as the real one
TINY_ARCH = {"name": "flow", "hidden_dim": 16, "num_layers": 1}


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory):
    """A tiny untrained flow net exported as best_model.pth (the same for every test of the session)."""
    from framegen.checkpoints import export_net
    from framegen.models import build_net

    torch.manual_seed(0)
    return export_net(tmp_path_factory.mktemp("ckpt") / "tiny.pth", build_net(**TINY_ARCH), TINY_ARCH)


@pytest.fixture(scope="session")
def interp(ckpt):
    from framegen.inference.interpolator import Interpolator

    return Interpolator.from_checkpoint(str(ckpt), device="cpu", batch_size=4)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared exists only on the project's machines and CI")
    return path


def compose_train(overrides: list[str], out_dir: Path):
    """Compose conf/train.yaml as scripts/train.py would, with run folders under ``out_dir``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir / "logs")
        del cfg.hydra
    return cfg


def compose_tool(name: str, overrides: list[str], out_dir: Path):
    """Compose a tool's config (conf/<name>.yaml) as its script would, with its output folder ``out_dir``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        if "output_dir" in cfg:
            cfg.output_dir = str(out_dir)
        cfg.paths.output_dir = str(out_dir)
        del cfg.hydra
    return cfg


@pytest.fixture
def tool(tmp_path, monkeypatch, capsys):
    """Run a framegen tool in this process as its script would: returns (exit code, stdout, stderr). The root log
    handlers and the SIGINT/SIGTERM handlers are put back after each run (Hydra and a stopped training run set
    their own), so no later test writes to a closed stream or a dead callback."""
    import logging
    import signal
    import sys

    from framegen.commands import run_tool

    monkeypatch.setenv("FRAMEGEN_ROOT", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def run(name: str, *args: str):
        monkeypatch.setattr(sys, "argv", [f"{name}.py", *args, "hydra.run.dir=" + str(tmp_path / "hydra")])
        code, handlers = 0, logging.root.handlers[:]
        try:
            run_tool(name)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            logging.root.handlers = handlers
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    for s, h in signals.items():
        signal.signal(s, h)


def one_error_line(err: str) -> str:
    """The one ``error:`` line of a tool's stderr (and no traceback)."""
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    return lines[0]
