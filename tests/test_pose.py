"""Real Market-1501 poses through the pose module (skips when ../shared is absent)."""
import numpy as np
import torch
from structflow.pose import (check_keypoints, heatmaps_batch, part_masks, PARTS, present, MISSING)

def _read_market(path):
    "Minimal reader of the `name:[ys]:[xs]` format (structflow.data has the full one)."
    out = {}
    for line in path.read_text().splitlines()[1:]:
        name, ys, xs = line.split(':')
        ys, xs = (np.array([float(v) for v in s.strip().strip('[]').split(',')]) for s in (ys, xs))
        out[name] = np.stack([xs, ys], 1)
    return out

def test_every_market_train_row(market_dir):
    from structflow.data import read_annotations
    ann = read_annotations(market_dir / 'market-annotation-train.csv')
    assert len(ann) == 12936
    names = sorted(ann)
    kps = np.stack([check_keypoints(ann[n], (128, 64), name=n) for n in names])  # every row converts
    hm = heatmaps_batch(torch.from_numpy(kps), (128, 64))
    assert hm.shape == (len(names), 18, 128, 64)
    ok = torch.from_numpy(present(kps))  # (N,18)
    assert ((hm.flatten(2).amax(2) > 0.99) == ok).all()  # a peak exactly where a joint is present
    empty = []
    for n, k in zip(names, kps):
        m = part_masks(k, (128, 64))
        for p, (part, joints) in enumerate(PARTS.items()):
            if present(k)[joints].sum() >= 2 and m[p].max() <= 0: empty.append((n, part))
    assert not empty, f'{len(empty)} empty part masks, e.g. {empty[:5]}'
