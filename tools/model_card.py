"""Write structflow/pretrained/README.md (the model card) from what the shipped model files store.

    python tools/model_card.py          # rewrite the card
    python tools/model_card.py --check  # exit 1 if the card differs from the stored facts

Every number in the card comes from a model file's metadata: its training command, machine,
steps and time (`tools/ship_model.py` stores them) and its `structflow eval` result."""
import argparse, sys
from pathlib import Path
import structflow
from structflow.checkpoint import load_pretrained, available_pretrained
from structflow.evaluate import metrics_table
from structflow.train import TrainConfig

CARD = Path(structflow.__file__).parent / 'pretrained' / 'README.md'

INTRO = """# Shipped models: model card

Generators trained on the synthetic dataset (notebook 02) and shipped inside the package, so that
the notebooks and widgets show a trained model without training anything:
`structflow.load_pretrained(NAME)`. This card is written by `python tools/model_card.py` from the
facts each model file stores (its commands, machine, steps, time and evaluation), so it cannot
drift from the files.

Both use the paper's architecture and two-stage training (stage 1: the sampling correctness loss,
eq. 9, plus the flow regulariser; stage 2: L1, adversarial, perceptual and style losses, eq. 10,
with GFLA's weights), trained with our recipe (`--recipe ours`): the paper's generator plus the four
additions of ours that notebook 08 introduces and measures: the source background's features and
pixels (`background`, `bg_rgb`), flow networks that predict a residual on top of a flow computed
from the two skeletons (`flow_prior`), and a decoder that may pass through the source pixels warped
along the finest flows (`warp_rgb`, a learned gate); the line "recipe" below says which ran.
VGG19 in the losses is **randomly initialised**, as no ImageNet weights were available where
they were trained; LPIPS and FID are therefore not reported.
"""

def _mb(p): return f'{p.stat().st_size / 2**20:.1f} MiB'

def _facts(name):
    G, ck = load_pretrained(name)
    m, t = ck['meta'], ck['train_config']
    s, mach, ev = m.get('train_summary') or {}, m.get('machine') or {}, m['eval']
    n_par = sum(p.numel() for p in G.parameters()) / 1e6
    cfg = G.cfg
    ours = cfg.additions
    hw = (f"{mach.get('device_name', '?')} {mach.get('device', '')}, torch {mach.get('torch', '?')}, "
          f"{mach.get('threads', '?')} threads") if mach else 'not recorded'
    o = ev['overall']
    ratio = lambda k, where=o: where['model'][k] / where['copy'][k]
    large = ev['bins'].get('large', {})
    return name, {
        'architecture': f"`{TrainConfig.from_dict(t).arch}` architecture, {cfg.size[0]}x{cfg.size[1]}, {n_par:.1f} M parameters, flows at 1/" + ' and 1/'.join(map(str, cfg.scales))
                        + (f"; ours: {', '.join(f'`{k}`' for k in ours)}" if ours else ''),
        'recipe': (f"ours ({', '.join(f'`{k}`' for k in ours)})" if ours else "the paper's (no additions)"),
        'data': f"`{m.get('data_command', 'not recorded')}` (evaluated on its {ev['n_pairs']} test pairs)",
        'training': f"`{m.get('command', 'not recorded')}`",
        'hardware': hw,
        'wall time / steps': (f"{s['elapsed_s'] / 60:.0f} min of training ({s['elapsed_s']:.0f} s), {s['step']:,} steps at batch {t['batch_size']} "
                              f"({s['stage1_end']:,} in stage 1)") if s else 'not recorded',
        'stored as': f"float16 weights, {_mb(Path(ck['path']))}",
        'flow error / zero flow': f"{ratio('epe'):.3f} overall" + (f", {ratio('epe', large):.3f} for large pose changes" if large.get('n_pairs') else ''),
        'against copy-the-source': (f"SSIM {o['model']['ssim']:.4f} vs {o['copy']['ssim']:.4f}; L1 {ratio('l1'):.3f}, "
                                    f"masked L1 {ratio('mask_l1'):.3f}, body L1 {ratio('body_l1'):.3f} of copying's"),
    }, ev, m

def card() -> str:
    facts = [_facts(n) for n in sorted(available_pretrained())]
    rows = list(facts[0][1])
    head = '| | ' + ' | '.join(n for n, *_ in facts) + ' |\n|---|' + '---|' * len(facts) + '\n'
    body = ''.join(f'| {r} | ' + ' | '.join(f[r] for _, f, *_ in facts) + ' |\n' for r in rows)
    out = [INTRO, head + body]
    for name, f, ev, m in facts:
        out.append(f"## {name}: `structflow eval`\n\n"
                   f"    {m.get('data_command', 'structflow synth ...').replace('DATA', 'data')}\n"
                   f"    structflow eval --checkpoint {name} --data data\n\n" + metrics_table(ev))
    return '\n'.join(out)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0]); p.add_argument('--check', action='store_true')
    a = p.parse_args()
    text = card()
    if a.check:
        if CARD.read_text() != text: sys.exit(f'{CARD} is out of date: run python tools/model_card.py')
        print(f'{CARD} is up to date')
    else: CARD.write_text(text); print(f'wrote {CARD}')
