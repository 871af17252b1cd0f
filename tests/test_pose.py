"""Real Market-1501 poses through the pose module (skips when ../shared is absent)."""
import numpy as np
import torch
from structflow.pose import check_keypoints, heatmaps_batch, part_masks, part_masks_batch, PARTS, present

def test_every_market_train_row(market_dir):
    from structflow.data import read_annotations
    ann = read_annotations(market_dir / 'market-annotation-train.csv')
    assert len(ann) == 12936
    names = sorted(ann)
    kps = np.stack([check_keypoints(ann[n], (128, 64), name=n) for n in names])  # every row converts
    ok = torch.from_numpy(present(kps))  # (N,18)
    empty = []
    for i in range(0, len(names), 256):  # heatmaps and part masks, a chunk of poses at a time
        k = torch.from_numpy(kps[i:i + 256])
        hm = heatmaps_batch(k, (128, 64))
        assert hm.shape == (len(k), 18, 128, 64)
        assert ((hm.flatten(2).amax(2) > 0.99) == ok[i:i + 256]).all()  # a peak exactly where a joint is present
        m = part_masks_batch(k, (128, 64))  # (b,3,128,64)
        for p, joints in enumerate(PARTS.values()):
            two = ok[i:i + 256][:, joints].sum(1) >= 2
            bad = two & (m[:, p].flatten(1).amax(1) <= 0)
            empty += [(names[i + j], list(PARTS)[p]) for j in torch.nonzero(bad).flatten().tolist()]
    assert not empty, f'{len(empty)} empty part masks, e.g. {empty[:5]}'

def test_batched_masks_equal_single(market_dir):
    "The vectorised masks equal the one-pose function on real poses (with their missing joints)."
    from structflow.data import read_annotations
    ann = read_annotations(market_dir / 'market-annotation-test.csv')
    names = sorted(ann)[::97][:120]
    kps = np.stack([check_keypoints(ann[n], (128, 64)) for n in names])
    batch = part_masks_batch(torch.from_numpy(kps), (128, 64))
    single = torch.stack([part_masks(k, (128, 64)) for k in kps])
    assert torch.allclose(batch, single, atol=1e-6)
