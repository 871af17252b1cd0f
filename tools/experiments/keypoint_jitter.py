"""Experiment (issue 26): do noisy poses in training teach a synthetic model to hedge where real photos are uncertain?

Real keypoints are estimates, a few pixels off, and a real target holds what the source cannot tell (the other side of a
garment, another camera's colours); on real pairs blurring the shipped models' output helps every metric, which says
they are too sure. Synthetic poses are exact. Here the shipped synthetic-128x64 is fine-tuned (stage 2 only, batch 8, fresh
discriminator) on synthetic pairs whose keypoints (the model's input only: heatmaps, part masks, skeleton prior) get
Gaussian noise of SIGMA pixels at 128 px height, while the images and the true flow stay exact; the control runs the
same steps with SIGMA 0. Both are then taken apart on the real Market development pairs (notebook 11e's `breakdown`).

    python tools/experiments/keypoint_jitter.py finetune DATA RUN STEPS SIGMA   (Ctrl-C / SIGINT stops it, saving last.pt)
    python tools/experiments/keypoint_jitter.py breakdown CHECKPOINT PAIRS      (PAIRS: realpairs-dev/market)

Not part of the package: the dataset is patched in this process only.
"""
import sys, time
from pathlib import Path
import torch
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

def jitter_poses(sigma: float):
    "Patch PairDataset so that training items carry keypoints (and the maps drawn from them) moved by N(0, sigma) px at 128 px height."
    from structflow import pair_dataset as pdm
    from structflow.pose import MISSING, heatmaps_batch, part_masks_batch, get_parts
    orig = pdm.PairDataset.__getitem__
    def item(self, k):
        it = orig(self, k)
        if sigma <= 0 or self.split != 'train': return it
        H, W = self.size
        for side in ('source', 'target'):
            kp = it[f'{side}_kps'].clone(); ok = ~(kp == MISSING).all(-1)
            moved = kp + torch.randn_like(kp) * sigma * H / 128
            kp[ok] = torch.minimum(moved[ok].clamp(min=0), torch.tensor([W - 1., H - 1.]))
            it[f'{side}_kps'] = kp
            if it.get(f'{side}_pose') is not None and it[f'{side}_pose'].numel(): it[f'{side}_pose'] = heatmaps_batch(kp[None], (H, W), getattr(self, 'sigma', None))[0]
            if it.get(f'{side}_parts') is not None and it[f'{side}_parts'].numel(): it[f'{side}_parts'] = part_masks_batch(kp[None], (H, W), get_parts(self.parts))[0]
        return it
    pdm.PairDataset.__getitem__ = item

def finetune(data, run, steps, sigma):
    from structflow.train import get_train_config, Trainer, unwrap
    from structflow.checkpoint import load_pretrained
    jitter_poses(float(sigma))
    cfg = get_train_config('synthetic-128x64', data=data, steps1=0, steps2=int(steps), time_budget=None, allow_random_vgg=True,
                           num_workers=0, device='cpu', ckpt_every=20, sample_every=10 ** 6, seed=0, batch_size=8)
    tr = Trainer(cfg, run, quiet=True)
    G0, _ = load_pretrained('synthetic-128x64')
    unwrap(tr.G).load_state_dict({k: v.float() for k, v in G0.state_dict().items()})
    t = time.time(); print(tr.run(), f'{time.time() - t:.0f} s')

def breakdown(checkpoint, pairs):
    from structflow.checkpoint import load_model
    from structflow.pair_dataset import PairDataset
    from structflow.real_pairs import breakdown as bd, breakdown_table
    G, _ = load_model(checkpoint)
    ds = PairDataset(pairs, 'test', size=G.cfg.size, parts=G.cfg.parts, crop='auto', pose_maps=False)
    print(breakdown_table(bd(G, ds)))

if __name__ == '__main__':
    cmds = {'finetune': finetune, 'breakdown': breakdown}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds: print(__doc__); sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])
