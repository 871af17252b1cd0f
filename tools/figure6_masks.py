"""Bring a stored Figure 6 grid (nbs/ablation/RECIPE/figure6.png) to the drawing rules of the current code: every flow tile on
the target's body only (the true flow is zero off the body; a model's flow is drawn with the same mask) and with its colour key.

    python tools/figure6_masks.py nbs/ablation/paper DATA     # DATA: the ablation's synthetic dataset folder (WORK/RECIPE/data)

Runs of an older code stored their model-flow tiles unmasked and without the key; runs of the current code store them as this
tool leaves them, so running it again changes nothing. The body masks come from the dataset's ground truth for the grid's pairs,
which the results file names."""
import json, sys
from pathlib import Path
import numpy as np
from PIL import Image
from structflow.core import paste_flow_key
from structflow.pair_dataset import PairDataset
from structflow.ablation import read_results, get_tiles, put_tiles

def mask_figure6(folder, data) -> int:
    folder = Path(folder); res = read_results(folder); g = res['grid']
    ds = PairDataset(data, 'test', size=tuple(g['tile']), pose_maps=False, part_maps=False)
    items = [ds[i] for i in g['pairs']]
    for it, want in zip(items, g['names']):  # the grid's pairs, by name: the data must be the ablation's
        if [it['from'], it['to']] != list(want): raise ValueError(f"{data}: pair {[it['from'], it['to']]} is not the grid's {want}")
    body = np.stack([it['target_person'][0].numpy() > 0.5 for it in items])  # (K,H,W)
    img = np.asarray(Image.open(folder / g['file']).convert('RGB')).copy()
    for c in g['columns']:
        if c != 'true_flow' and not (c.startswith('flow:') and c.split(':')[1] in g['filled']): continue
        t = get_tiles(img, g['columns'], c, g['tile']).copy()
        t[~body] = 255  # off the body: white, as a zero flow is drawn
        img = put_tiles(img, g['columns'], c, np.stack([paste_flow_key(x) for x in t]))
    Image.fromarray(img).save(folder / g['file'])
    return len(items)

if __name__ == '__main__':
    n = mask_figure6(sys.argv[1], sys.argv[2])
    print(f"{sys.argv[1]}/figure6.png: flow tiles of {n} pairs on the target body, with the colour key")
