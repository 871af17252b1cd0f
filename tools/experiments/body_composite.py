"""Experiment (issue 26), post hoc, no training: what if the shipped models copied only inside the target's body, let the
source background through everywhere else, or hedged (blurred)?

For each real development pair, one forward pass of the shipped model of its size is split by notebook 11e's
`output_parts` into the copied pixels X (the source moved along the model's flows), where they arrive (coverage c), the
background B the model is given and its output. With T the target's body (the union of its part masks; `parts+3px`:
dilated by 3 px; `pose mask`: the evaluation's pose mask, made from the target pose alone, as the model could), the
pictures scored against copying the source (eval's metrics and 8-bit protocol):
  copy in T:        m X + (1 - m) B, m = T c            model in T:  T out + (1 - T) B
  copy/model in T:  T (c X + (1 - c) out) + (1 - T) B   blur5: a 5x5 box filter over the picture

    python tools/experiments/body_composite.py deepfashion|market [PAIRS]   (default ../shared/data/realpairs-dev)

Numbers only: the photographs stay where they are.
"""
import sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from torch.utils.data import DataLoader
from structflow.checkpoint import load_pretrained
from structflow.pair_dataset import PairDataset
from structflow.real_pairs import output_parts
from structflow.evaluate import with_maps, WithPoseMask, pair_metrics
from structflow.metrics import PROTOCOLS

MODELS = {'deepfashion': 'synthetic-256x176', 'market': 'synthetic-128x64'}

def blur(x, k=5):
    return F.conv2d(F.pad(x, (k // 2,) * 4, mode='replicate'), torch.ones(x.shape[1], 1, k, k) / k ** 2, groups=x.shape[1])

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in MODELS: print(__doc__); return 2
    name = argv[0]
    root = Path(argv[1] if len(argv) > 1 else ROOT.parent / 'shared' / 'data' / 'realpairs-dev') / name
    if not root.is_dir(): print(f"body_composite: error: {root} is not a folder", file=sys.stderr); return 2
    G, _ = load_pretrained(MODELS[name]); G.eval()
    ds = PairDataset(root, 'test', size=G.cfg.size, parts=G.cfg.parts, crop='auto', pose_maps=False)
    quantize, data_range = PROTOCOLS['structflow']
    sums, n, t0 = {}, 0, time.time()
    for b in DataLoader(WithPoseMask(ds, G.cfg.size), batch_size=16):
        b = with_maps(b, G.cfg.size, None, G.cfg.parts)
        P = output_parts(G, b)
        out, X, B, c = P['model'], P['_pixels'], P['_background'][:, :3], P['_cover'].clamp(0, 1)
        pm = b['pose_mask'].float().view(c.shape)
        T = b['target_parts'].amax(1, keepdim=True).clamp(0, 1)
        Td = F.max_pool2d(T, 7, 1, 3)
        preds = {'model': out, 'copy the source': b['source'], 'model, blur5': blur(out)}
        for tn, Tm in (('parts', T), ('parts+3px', Td), ('pose mask', pm)):
            preds |= {f'copy in {tn}': Tm * c * X + (1 - Tm * c) * B, f'model in {tn}': Tm * out + (1 - Tm) * B,
                      f'copy/model in {tn}': Tm * (c * X + (1 - c) * out) + (1 - Tm) * B}
        preds['copy/model in parts+3px, blur5'] = blur(preds['copy/model in parts+3px'])
        for k, v in preds.items():
            m = pair_metrics(v.float().clamp(-1, 1), b, pm, None, None, quantize, data_range)
            for mk in ('ssim', 'l1', 'mask_l1'): sums.setdefault(k, {}).setdefault(mk, 0.); sums[k][mk] += float(m[mk].sum())
        n += len(b['source'])
    c0 = sums['copy the source']
    print(f"{name}: {n} pairs, {MODELS[name]}, {time.time() - t0:.0f} s\n\n| picture | SSIM - copy | L1 / copy | masked L1 / copy |\n|---|---|---|---|")
    for k, m in sums.items():
        print(f"| {k} | {(m['ssim'] - c0['ssim']) / n:+.3f} | {m['l1'] / c0['l1']:.3f} | {m['mask_l1'] / c0['mask_l1']:.3f} |")
    return 0

if __name__ == '__main__': sys.exit(main())
