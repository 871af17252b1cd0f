"""Experiment (issue 26): do garments textured with photographs teach the decoder to copy real clothes?

Garments get, with probability 0.6, a luminance pattern cut from a photograph bundled with scikit-image (no people:
brick, grass, gravel, coffee, chelsea, rocket, hubble_deep_field, retina, coins, moon, page, text), mixed between the
garment's two colours, blurred to the footprint of a pixel (mip levels), tiled by mirroring. The shipped
synthetic-256x176 is fine-tuned (stage 2 only, fresh discriminator) for the same number of steps on 300 identities
rendered with the photo textures and, as the control, on 300 rendered as before; both are then taken apart on the real
DeepFashion development pairs (notebook 11e's `breakdown`).

    python tools/experiments/photo_textures.py render photo|plain OUT [IDENTITIES]
    python tools/experiments/photo_textures.py finetune DATA RUN STEPS     (Ctrl-C / SIGINT stops it, saving last.pt)
    python tools/experiments/photo_textures.py breakdown CHECKPOINT PAIRS

Not part of the package: the renderer is patched in this process only. Needs scikit-image (a dev dependency) and scipy.
"""
import sys, time, math, json
import numpy as np

NAMES = ['brick', 'grass', 'gravel', 'coffee', 'chelsea', 'rocket', 'hubble_deep_field', 'retina', 'coins', 'moon', 'page', 'text']
_BANK = {}

def bank() -> dict:
    "name -> blur levels of its luminance, normalised to mean 0 and std 1; level k suits 2^k texels per pixel."
    if not _BANK:
        from skimage import data
        from scipy.ndimage import gaussian_filter
        for n in NAMES:
            im = getattr(data, n)().astype(np.float32)
            if im.ndim == 3: im = im @ np.array([0.299, 0.587, 0.114], np.float32)
            im = (im - im.mean()) / (im.std() + 1e-6)
            _BANK[n] = [im] + [gaussian_filter(im, 2 ** k / 2, mode='mirror') for k in range(1, 6)]
    return _BANK

def install():
    "Patch the renderer of this process: garments may carry a photo texture (pattern 'photo')."
    import structflow.synthetic as syn, structflow.renderer as ren
    sample, cloth = syn._sample_garment, ren._cloth
    def _sample_garment(rng, motif=True):
        g = sample(rng, motif)
        if rng.random() < 0.6:
            g.pattern = 'photo'  # texture, texels per body unit, offsets, contrast
            g.tex = (NAMES[rng.integers(len(NAMES))], float(rng.uniform(400, 1400)), float(rng.random()), float(rng.random()), float(rng.uniform(0.15, 0.45)))
        return g
    def _cloth(g, x, y, fx, fy, rt):
        if g.pattern != 'photo': return cloth(g, x, y, fx, fy, rt)
        name, S, ox, oy, con = g.tex
        levels = bank()[name]; h, w = levels[0].shape
        lv = levels[int(np.clip(round(math.log2(max(float(np.median(np.maximum(fx, fy))) * S, 1))), 0, 5))]
        u = (x * S + ox * w) % (2 * w); v = (y * S + oy * h) % (2 * h)
        u = np.where(u >= w, 2 * w - 1 - u, u); v = np.where(v >= h, 2 * h - 1 - v, v)  # mirrored tiling: no seams
        u0 = np.clip(np.floor(u).astype(int), 0, w - 2); v0 = np.clip(np.floor(v).astype(int), 0, h - 2); du, dv = u - u0, v - v0
        t = lv[v0, u0] * (1 - du) * (1 - dv) + lv[v0, u0 + 1] * du * (1 - dv) + lv[v0 + 1, u0] * (1 - du) * dv + lv[v0 + 1, u0 + 1] * du * dv
        return np.clip(0.5 + con * t, 0, 1)
    syn._sample_garment, ren._cloth = _sample_garment, _cloth

def main(argv):
    cmd = argv[0] if argv else ''
    if cmd == 'render':
        arm, out, n = argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 300
        if arm == 'photo': install()
        from structflow.synthetic_dataset import make_dataset
        print(make_dataset(out, size=(256, 176), identities=n, poses_per_identity=4, seed=11, progress=False))
    elif cmd == 'finetune':
        import torch
        from structflow.train import get_train_config, Trainer, unwrap
        from structflow.checkpoint import load_pretrained
        cfg = get_train_config('synthetic-256x176', data=argv[1], steps1=0, steps2=int(argv[3]), time_budget=None, batch_size=8,
                               allow_random_vgg=True, num_workers=0, device='cpu', ckpt_every=100, sample_every=10 ** 6)
        tr = Trainer(cfg, argv[2], quiet=True)
        G0, _ = load_pretrained('synthetic-256x176')
        unwrap(tr.G).load_state_dict({k: v.float() for k, v in G0.state_dict().items()})
        t = time.time(); print(tr.run(), f'{time.time() - t:.0f} s')
    elif cmd == 'breakdown':
        from structflow.checkpoint import load_model, load_pretrained
        from structflow.pair_dataset import PairDataset
        from structflow.real_pairs import breakdown, breakdown_table
        G, _ = load_pretrained(argv[1]) if not argv[1].endswith('.pt') else load_model(argv[1])
        ds = PairDataset(argv[2], 'test', size=G.cfg.size, parts=G.cfg.parts, crop='auto', pose_maps=False)
        res = breakdown(G, ds); print(breakdown_table(res)); print(json.dumps(res))
    else:
        print(__doc__, file=sys.stderr); return 2
    return 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
