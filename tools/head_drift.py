"""Why do our flows drift from the skeleton prior in stage 1, the head most (issue 22)? Four stage-1 runs of our recipe
from the same initialisation and data, differing only in the stage-1 objective:

  part      eq. 9 as the paper writes it and the code computes it: L_sam is a mean over each part's pixels, summed over parts
  pixel     one mean over all body pixels (each read through its own part's flow): a part weighs by its area
  reg only  L_sam off, the flow regulariser alone
  sam only  the regulariser off, L_sam alone
  head sees all joints      eq. 9 as written; the head's flow network gets all 18 joints of both poses as its input
                            (its part mask, prior and loss stay the head's): does the head drift for lack of context?
  head sees shoulders       the same with the head's joints plus the two shoulders

Measured: each part's flow error on the inside of its visible target region (pixels more than 3 px from another part),
on held-out synthetic pairs, before training (the skeleton prior) and after. Writes nbs/study/head_drift.json (read by
notebook 05b). Usage: python tools/head_drift.py [STEPS] [WORK] [VARIANT ...]   (300 steps: about 5 minutes per variant
on one CPU core). Naming variants runs only those and keeps the others' results from an earlier run with the same steps."""
import sys, json, shutil
from pathlib import Path
from dataclasses import replace
import numpy as np, torch, torch.nn.functional as F
import structflow.objective as O
from structflow.sampling_correctness import sampling_correctness_loss, max_similarity
from structflow.objective import flow_levels, pick_level, LOSS_WEIGHTS
from structflow.train import get_train_config, train
from structflow.checkpoint import load_model
from structflow.generator import make_generator
from structflow.pair_dataset import PairDataset
from structflow.synthetic_dataset import make_dataset
from structflow.metrics import flow_epe
from structflow.flow import PartFlowGenerator, PartFlowNet
from structflow.pose import PARTS, N_JOINTS

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
WORK = Path(sys.argv[2] if len(sys.argv) > 2 else '/tmp/structflow-head-drift'); WORK.mkdir(parents=True, exist_ok=True)
ONLY = sys.argv[3:]
OUT = Path(__file__).resolve().parents[1] / 'nbs' / 'study' / 'head_drift.json'
torch.set_num_threads(1)

def per_pixel(self, source, target, flows, masks=None, return_parts=False):
    "L_sam's loss maps averaged over all body pixels at once, times the number of parts (the scale of a sum of part means)."
    fs, ft = self._feats(source), self._feats(target)
    if isinstance(masks, torch.Tensor): masks = {n: masks[:, i:i + 1] for i, n in enumerate(flows)}
    total, parts = 0.0, {}
    for l in self.layers:
        best = max_similarity(fs[l], ft[l], self.chunk); h, w = ft[l].shape[-2:]
        num = den = 0.0
        for name, v in flows.items():
            lm = sampling_correctness_loss(fs[l], ft[l], pick_level(flow_levels(v), (h, w)), None, self.chunk, reduction='none', best=best)
            m = F.interpolate(masks[name].float(), size=(h, w), mode='area')[:, 0]
            num, den = num + (lm * m).sum(), den + m.sum()
            parts[name] = ((lm * m).sum() / (m.sum() + 1e-8)).detach()
        total = total + num / (den + 1e-8) * len(flows)
    return (total, parts) if return_parts else total

def inside_epe(G, ds, n=192, border=3) -> dict:
    "Per part: mean flow error over the inside of its visible target region (more than `border` px from another part)."
    acc = {}
    with torch.no_grad():
        for b in torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(min(n, len(ds)))), batch_size=16):
            vis, owner = b['target_person'] * b['visibility'], b['target_parts'].argmax(1, keepdim=True)
            o = G.eval()(b)
            for i, p in enumerate(o['flows']):
                near = F.max_pool2d((owner != i).float() * b['target_person'], 2 * border + 1, 1, border)
                e = flow_epe(o['flows'][p][0], b['flow'], vis * (owner == i).float() * (1 - near))
                acc.setdefault(p, []).extend(e[torch.isfinite(e)].tolist())
    return {p: round(float(np.mean(v)), 3) for p, v in acc.items()}

data = WORK / 'data'
if not data.exists(): make_dataset(data, size=(128, 64), identities=300, poses_per_identity=4, seed=0, progress=False)
test = PairDataset(data, 'test', size=(128, 64))
base = get_train_config('demo', recipe='ours', steps1=STEPS, steps2=0, num_workers=0, sample_every=10 ** 6, ckpt_every=10 ** 6, seed=0)
HEAD_SHOULDERS = PARTS['head'] + [2, 5]
variants = {'part': ({}, False, None), 'pixel': ({}, True, None), 'reg only': ({'sam': 0.0}, False, None), 'sam only': ({'reg': 0.0}, False, None),
            'head sees all joints': ({}, False, list(range(N_JOINTS))), 'head sees shoulders': ({}, False, HEAD_SHOULDERS)}
if unknown := set(ONLY) - set(variants): sys.exit(f"unknown variants {sorted(unknown)}: choose from {list(variants)}")
orig, orig_init, orig_fwd = O.SamplingCorrectnessLoss.forward, PartFlowGenerator.__init__, PartFlowGenerator.forward

def head_input(joints):
    "Patches for PartFlowGenerator: the head's network reads `joints`; self.parts (masks, prior, loss) stays the head's."
    def init(self, parts=PARTS, ch=32, scales=(4,), **kw):
        orig_init(self, parts, ch, scales, **kw)
        self.inputs = {'head': list(joints)} if 'head' in self.parts else {}
        if self.inputs: self.nets['head'] = PartFlowNet(len(joints), ch, scales, **kw)
    def forward(self, src_pose, tgt_pose):
        return {k: self.nets[k](src_pose[:, self.inputs.get(k, j)], tgt_pose[:, self.inputs.get(k, j)]) for k, j in self.parts.items()}
    return init, forward

res = {'steps1': STEPS, 'recipe': 'ours', 'preset': 'demo', 'vgg': 'random (no ImageNet weights here)', 'held_out_pairs': min(192, len(test))}
if ONLY and OUT.is_file() and json.loads(OUT.read_text()).get('steps1') == STEPS: res = json.loads(OUT.read_text())  # keep the other variants
res['start'] = inside_epe(make_generator(base.model_config()), test)  # our flow networks start at zero: the skeleton prior, whatever the seed
for name, (loss_over, pixel, joints) in variants.items():
    if ONLY and name not in ONLY: continue
    O.SamplingCorrectnessLoss.forward = per_pixel if pixel else orig
    if joints is not None: PartFlowGenerator.__init__, PartFlowGenerator.forward = head_input(joints)  # also while loading: the checkpoint has the wider network
    run = WORK / f"run-{name.replace(' ', '-')}"; shutil.rmtree(run, ignore_errors=True); run.mkdir(); (run / 'data').symlink_to(data)
    try:
        train(replace(base, loss1=replace(LOSS_WEIGHTS['stage1'], **loss_over)), run, quiet=True)
        res[name] = inside_epe(load_model(run / 'stage1.pt')[0], test)
    finally: O.SamplingCorrectnessLoss.forward, PartFlowGenerator.__init__, PartFlowGenerator.forward = orig, orig_init, orig_fwd
    print(name, res[name], 'start', res['start'], flush=True)
OUT.write_text(json.dumps(res, indent=1) + '\n')
print(f'wrote {OUT}')
