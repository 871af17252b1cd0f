"""Shared pytest fixtures: the optional ../shared data folder, slow / gpu markers."""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKET = ROOT.parent / 'shared' / 'data' / 'market'

def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', default=False, help='also run tests marked slow')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long test, run with --runslow (make slow)')
    config.addinivalue_line('markers', 'gpu: needs a CUDA GPU')

def pytest_collection_modifyitems(config, items):
    import torch
    for item in items:
        if 'slow' in item.keywords and not config.getoption('--runslow'):
            item.add_marker(pytest.mark.skip(reason='slow: run with --runslow'))
        if 'gpu' in item.keywords and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason='no CUDA GPU'))

@pytest.fixture
def market_dir():
    "The real Market-1501 annotations in ../shared/data/market (skip when absent)."
    if not (MARKET / 'market-annotation-train.csv').exists():
        pytest.skip(f'{MARKET} not present')
    return MARKET

@pytest.fixture(scope='session')
def synth_data(tmp_path_factory):
    "A synthetic dataset rendered once per session: 8 identities x 3 poses at 64x32 (42 training pairs)."
    from structflow.synthetic_dataset import make_dataset
    root = tmp_path_factory.mktemp('synth') / 'data'
    make_dataset(root, size=(64, 32), identities=8, poses_per_identity=3, seed=0, progress=False)
    return root

@pytest.fixture
def one_thread():
    "This test computes with one torch thread (and gives the others back afterwards)."
    import torch
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture
def cli(capsys):
    "cli(*args) -> (exit code, stdout, stderr) of `structflow ARGS`, run in this process; a traceback fails the test."
    from structflow.cli import main
    def run(*args):
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert 'Traceback' not in out + err, err
        return rc, out, err
    return run
