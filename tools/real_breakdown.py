"""Notebook 11e's real-photo numbers: `breakdown` and `bounds` of each shipped model on the real development pairs of its dataset.

Writes nbs/real/breakdown.json (numbers only: the photographs' licences keep them, and any picture of them,
out of the repository). Usage: python tools/real_breakdown.py [PAIRS]  (default ../shared/data/realpairs-dev)
"""
import sys, time, platform
from pathlib import Path
import torch
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from structflow.checkpoint import load_pretrained, write_json
from structflow.pair_dataset import PairDataset
from structflow.real_pairs import breakdown, breakdown_table, bounds, bounds_table

MODELS = {'deepfashion': 'synthetic-256x176', 'market': 'synthetic-128x64'}  # dataset folder -> the shipped model of its size

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else ROOT.parent / 'shared' / 'data' / 'realpairs-dev')
    if not all((root / d).is_dir() for d in MODELS):
        print(f"real_breakdown: error: {root} lacks {' or '.join(d for d in MODELS if not (root / d).is_dir())}/", file=sys.stderr); return 2
    out = {'command': 'python tools/real_breakdown.py', 'torch_threads': torch.get_num_threads(), 'datasets': {}}
    for name, model in MODELS.items():
        G, _ = load_pretrained(model)
        ds = PairDataset(root / name, 'test', size=G.cfg.size, parts=G.cfg.parts, crop='auto', pose_maps=False)
        t = time.time(); res = breakdown(G, ds)
        res.update(checkpoint=model, seconds=time.time() - t, machine=f"{platform.machine()} cpu, {torch.get_num_threads()} threads")
        t = time.time(); res['bounds'] = bounds(G, ds); res['bounds']['seconds'] = time.time() - t
        out['datasets'][name] = res
        print(f"## {name}\n\n{breakdown_table(res)}\n\n{bounds_table(res['bounds'])}\n", flush=True)
    dest = ROOT / 'nbs' / 'real' / 'breakdown.json'; dest.parent.mkdir(exist_ok=True)
    write_json(dest, out); print(f'wrote {dest}')
    return 0

if __name__ == '__main__': sys.exit(main())
