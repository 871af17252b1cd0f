"""The models shipped in structflow/pretrained: they load, run, and their model-card numbers are reproduced."""
import json, subprocess
import numpy as np
import pytest
import torch
import structflow
from structflow.train import load_pretrained, available_pretrained

def test_shipped_models_load_and_run():
    assert {'synthetic-128x64', 'synthetic-256x176'} <= set(available_pretrained())
    from structflow.demo import figure_data
    for name, size in (('synthetic-128x64', (128, 64)), ('synthetic-256x176', (256, 176))):
        G, meta = structflow.load_pretrained(name)
        assert G.cfg.size == size and meta['format'] == 'structflow-model'
        assert meta['meta']['eval']['n_pairs'] > 0  # the evaluation the model card quotes
        item = figure_data(size, n_identities=1)[0]
        batch = {k: v[None] for k, v in item.items()}
        with torch.no_grad(): out = G(batch, relations=True)
        assert out['image'].shape == (1, 3, *size) and out['image'].abs().max() <= 1
        assert sorted(out['relations']) == [4, 6]
    with pytest.raises(ValueError, match='available'): load_pretrained('no-such-model')

def test_model_card_quotes_the_shipped_evaluation():
    from pathlib import Path
    card = (Path(structflow.__file__).parent / 'pretrained' / 'README.md').read_text()
    G, meta = load_pretrained('synthetic-256x176')
    m = meta['meta']['eval']['overall']['model']
    assert f"| model | {m['ssim']:.4f} | {m['psnr']:.4f} |" in card

@pytest.mark.slow
def test_model_card_numbers_are_reproduced(tmp_path):
    "structflow eval on the regenerated test data gives the numbers stored with the model (and quoted in the card)."
    data = tmp_path / 'data128'
    subprocess.run(['structflow', 'synth', '--out', str(data), '--size', '128x64', '--identities', '600', '--poses-per-identity', '4',
                    '--seed', '0', '--workers', '2', '--quiet'], check=True, timeout=1200)
    subprocess.run(['structflow', 'eval', '--checkpoint', 'synthetic-128x64', '--data', str(data), '--out', str(tmp_path / 'ev'), '--quiet'],
                   check=True, timeout=3000)
    got = json.loads((tmp_path / 'ev' / 'metrics.json').read_text())['overall']['model']
    want = load_pretrained('synthetic-128x64')[1]['meta']['eval']['overall']['model']
    for k in ('ssim', 'psnr', 'mask_l1', 'body_l1', 'epe', 'vis_iou'):
        assert abs(got[k] - want[k]) < 1e-3 * max(1, abs(want[k])), (k, got[k], want[k])
