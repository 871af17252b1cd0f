"""Relation-map shares and cell probes (notebook 07's `measure_relations`, `probe_cells`) of the trained Table-3 runs of one recipe, and of the same
architecture untrained, on the held-out test people of the runs' own dataset. Writes nbs/ablation/RECIPE/relations.json.

    python tools/relation_shares.py paper|ours [WORK] [--pairs N]

WORK is the folder `tools/table3.sh` trained in (default /work/t3work); runs without a checkpoint there are skipped
(the checkpoints are not committed: measure in the session that trained them)."""
import argparse, json, sys
from pathlib import Path
import torch
from structflow.checkpoint import load_model, write_json
from structflow.pair_dataset import PairDataset
from structflow.generator import make_generator
from structflow.pnb import measure_relations, probe_cells

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('recipe', choices=['paper', 'ours']); p.add_argument('work', nargs='?', default='/work/t3work')
p.add_argument('--pairs', type=int, default=128); p.add_argument('--out', default='nbs/ablation')
a = p.parse_args()
work, out = Path(a.work) / a.recipe, Path(a.out) / a.recipe / 'relations.json'
finished = set(json.loads((Path(a.out) / a.recipe / 'results.json').read_text())['runs'])  # runs the ablation finished and evaluated
runs = sorted(d for d in (work / 'runs').glob('*') if d.name in finished and (d / 'model.pt').is_file())
if not runs: sys.exit(f"no finished runs in {work / 'runs'}")
res = json.loads(out.read_text()) if out.is_file() else {'format': 'structflow-relations', 'version': 1, 'recipe': a.recipe, 'models': {}}
res.update(pairs=a.pairs, split='test', data=str(work / 'data'))
def to_json(m): return {str(b): by for b, by in m.items()}
G = None
for d in runs:
    G, meta = load_model(d / 'model.pt')
    if G.fusion[str(max(G.levels))].pnb is None: continue
    ds = PairDataset(work / 'data', 'test', size=G.cfg.size, parts=G.cfg.parts)
    res['models'][d.name] = {'steps': json.loads((d / 'summary.json').read_text())['step'],
                             'shares': to_json(measure_relations(G, ds, a.pairs, temperatures=(1.0, 16.0), centred=True)),
                             'probe': to_json(probe_cells(G, ds, a.pairs))}
    print(d.name, {b: round(v['T=1']['same_part'], 3) for b, v in res['models'][d.name]['shares'].items()}, flush=True)
if G is not None:
    torch.manual_seed(0); G0 = make_generator(load_model(runs[0] / 'model.pt')[0].cfg)
    ds = PairDataset(work / 'data', 'test', size=G0.cfg.size, parts=G0.cfg.parts)
    res['models']['untrained'] = {'steps': 0, 'shares': to_json(measure_relations(G0, ds, a.pairs, temperatures=(1.0, 16.0), centred=True)),
                                  'probe': to_json(probe_cells(G0, ds, a.pairs))}
write_json(out, res)
print(f'wrote {out}')
