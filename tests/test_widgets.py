"""structflow.widgets on what a notebook cell cannot make cheaply: a freshly trained run folder, bad files,
dataset items, a model without the pyramid non-local block, an import without a notebook."""
import os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch

from structflow.widgets import FlowExplorer, load_samples, synthetic_pairs, pair_outputs
from structflow.pose_editor import PoseEditor
from structflow.relation_maps import RelationMapExplorer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "A real training run folder: 3 + 3 steps of the tiny preset at 64x32 on synthetic data (about 30 s)."
    from structflow.train import train, get_train_config
    out = tmp_path_factory.mktemp('run')
    cfg = get_train_config('tiny', size=(64, 32), steps1=3, steps2=3, synth_identities=6, synth_poses=3,
                           num_workers=0, allow_random_vgg=True)
    train(cfg, out, quiet=True)
    return out


def _marker(ax, label):
    return [l for l in ax.lines if l.get_label() == label][0].get_xydata()[0]


def test_flow_explorer_from_run(tiny_run):
    saved = torch.load(tiny_run / 'samples.pt', weights_only=True)
    fx = FlowExplorer.from_run(tiny_run)
    assert (fx.H, fx.W) == (64, 32)
    assert len(fx.pairs) == len(saved['source'])
    assert fx.pairs[0]['name'] == f"{saved['from'][0]} -> {saved['to'][0]}"
    torch.testing.assert_close(fx.pairs[0]['source'], saved['source'][0])
    assert fx.pairs[0]['flow'] is not None  # a synthetic run saves the true flow
    fx.controls['part'].value = 'legs'
    fx.controls['x'].value, fx.controls['y'].value = 10, 50
    assert fx.point == (10, 50) and fx.axes['flow'].get_title() == 'flow: legs'
    flow = fx.view['flow']
    np.testing.assert_allclose(_marker(fx.axes['source'], 'sample'), (10 + float(flow[0, 50, 10]), 50 + float(flow[1, 50, 10])), atol=1e-4)
    np.testing.assert_allclose(_marker(fx.axes['source'], 'true_sample'), fx.true_sample, atol=1e-4)
    assert fx.epe is not None and len(fx.epe) == 2  # (part flow, zero flow) end-point errors
    assert fx.meta['path'].endswith('model.pt')


def test_relation_and_pose_from_run(tiny_run):
    rx = RelationMapExplorer.from_run(tiny_run)
    for bins in rx.G.cfg.pnb_bins:
        rx.controls['level'].value = bins
        assert rx.controls['row'].max == bins - 1
        assert abs(float(rx.row.sum()) - 1) < 1e-4
        assert rx.axes['relation'].get_title() == f'{bins}x{bins} relation map'
    pe = PoseEditor.from_run(tiny_run)
    k0 = pe.keypoints.copy()
    pe.controls['joint'].value = 0
    pe.controls['x'].value, pe.controls['y'].value = 5, 6
    assert pe.keypoints[0].tolist() == [5.0, 6.0]
    np.testing.assert_array_equal(np.delete(pe.keypoints, 0, 0), np.delete(k0, 0, 0))
    pe.controls['reset'].click()
    np.testing.assert_array_equal(pe.keypoints, k0)


def test_dataset_items_work(tiny_run):
    "PairDataset items (tensors, extra keys) are pairs as they are."
    from structflow.pair_dataset import PairDataset
    from structflow.checkpoint import load_model
    G, _ = load_model(tiny_run)
    ds = PairDataset(tiny_run / 'data', 'test', size=(64, 32))
    fx = FlowExplorer(G, [ds[0], ds[1]])
    fx.render()
    assert fx.pairs[1]['name'] == f"{ds[1]['from']} -> {ds[1]['to']}"
    assert fx.axes['true flow'].get_title() == 'true flow'


def test_bad_run_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='samples.pt'):
        load_samples(tmp_path)
    bad = tmp_path / 'samples.pt'
    bad.write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match=str(bad)):
        load_samples(tmp_path)
    torch.save({'source': torch.zeros(1, 3, 8, 8)}, bad)
    with pytest.raises(ValueError, match='source_kps'):
        load_samples(bad)
    with pytest.raises(FileNotFoundError):
        FlowExplorer.from_run(tmp_path / 'nowhere')


def test_model_without_pnb(tmp_path):
    "A 'w/o PNB' model: flows and pose editing work, the relation explorer refuses it clearly."
    from structflow.generator import build_generator
    from structflow.train import model_file, atomic_save
    G = build_generator('tiny', pnb=False, size=(64, 32))
    atomic_save(model_file(G), tmp_path / 'model.pt')
    p = synthetic_pairs(1, (64, 32))[0]
    torch.save({'source': p['source'][None], 'target': p['target'][None], 'source_kps': torch.from_numpy(p['source_kps'])[None],
                'target_kps': torch.from_numpy(p['target_kps'])[None], 'from': ['a'], 'to': ['b']}, tmp_path / 'samples.pt')
    assert 'relations' not in pair_outputs(G, p, relations=True)
    FlowExplorer.from_run(tmp_path).render()
    PoseEditor.from_run(tmp_path).move('nose', 3, 3)
    with pytest.raises(ValueError, match='pnb=False'):
        RelationMapExplorer.from_run(tmp_path)


def test_wrong_size_pairs():
    from structflow.generator import build_generator
    G = build_generator('tiny', size=(64, 32))
    with pytest.raises(ValueError, match='built for 64x32'):
        FlowExplorer(G, synthetic_pairs(1, (128, 64)))


def test_import_needs_no_notebook():
    "Importing the module and driving a widget in a plain python process (no kernel, no browser) works and prints nothing."
    code = ("import structflow.widgets as w; from structflow.generator import build_generator; "
            "fx = w.FlowExplorer(build_generator('tiny', size=(64, 32)), w.synthetic_pairs(1, (64, 32))); "
            "fx.widget(); fx.controls['x'].value = 3; assert fx.point[0] == 3")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, 'MPLBACKEND': 'agg', 'OMP_NUM_THREADS': '1'}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ''


def test_two_level_model():
    "Models for 256-high images have flows at 1/4 and 1/8: FlowExplorer gets a level control."
    from structflow.generator import build_generator
    G = build_generator('tiny', size=(64, 32), scales=(4, 8))
    fx = FlowExplorer(G, synthetic_pairs(1, (64, 32)))
    fx.render()
    assert fx.axes['flow'].get_title() == 'flow: torso (1/4)'
    fx.controls['level'].value = 1
    assert fx.level == 1 and fx.axes['flow'].get_title() == 'flow: torso (1/8)'
    assert fx.view['flow'].shape == (2, 64, 32)
    rx = RelationMapExplorer(G, fx.pairs)
    rx.render()
    assert abs(float(rx.row.sum()) - 1) < 1e-4
