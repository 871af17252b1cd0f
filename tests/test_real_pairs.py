"""Real development photos: measured by notebook 11e, never stored in the repository."""
import json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / 'shared' / 'data' / 'realpairs-dev'

def test_no_real_photo_is_stored_in_a_notebook():
    "The cell of 11e that can draw the development photos is stored without outputs (their licences keep them out of the repository)."
    nb = json.loads((ROOT / 'nbs' / '11e_real_pairs.ipynb').read_text())
    cells = [c for c in nb['cells'] if c['cell_type'] == 'code' and 'STRUCTFLOW_SHOW_REAL' in ''.join(c['source'])]
    assert len(cells) == 1
    assert not any('image/png' in o.get('data', {}) for o in cells[0].get('outputs', []))

def test_stored_breakdown_has_both_datasets():
    res = json.loads((ROOT / 'nbs' / 'real' / 'breakdown.json').read_text())
    assert set(res['datasets']) == {'deepfashion', 'market'}
    for r in res['datasets'].values():
        assert r['n_pairs'] > 100 and 'copy the source' in r['metrics'] and set(r['gate']) == {'covered', 'uncovered'}

def test_real_breakdown_refuses_a_folder_without_pairs(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / 'tools' / 'real_breakdown.py'), str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2 and 'Traceback' not in p.stderr and str(tmp_path) in p.stderr

def test_breakdown_on_real_market_pairs(one_thread):
    if not (REAL / 'market').is_dir(): pytest.skip(f'{REAL} not present')
    from structflow.checkpoint import load_pretrained
    from structflow.pair_dataset import PairDataset
    from structflow.real_pairs import breakdown
    G, _ = load_pretrained('synthetic-128x64')
    ds = PairDataset(REAL / 'market', 'test', size=G.cfg.size, parts=G.cfg.parts, crop='auto', pose_maps=False)
    r = breakdown(G, ds, max_pairs=16)
    assert r['n_pairs'] == 16
    assert r['joints']['skeleton flow'] < 0.3 * r['joints']['zero flow']  # the skeleton flow carries real joints onto joints
    m = r['metrics']
    assert m['model']['mask_l1'] < m['copy the source']['mask_l1']
