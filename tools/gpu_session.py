"""The project's GPU runs: the shipped synthetic models, the ablation study and the GPU benchmark.

Run from the repository root on a CUDA machine (needs torch, torchvision, numpy, pillow,
matplotlib, tqdm, scipy and fastcore, a pure-Python wheel to carry where it is missing; nothing from this
project is installed, PYTHONPATH=. is enough):

    PYTHONPATH=. OUT=/some/dir python tools/gpu_session.py --part 1   # ablation + 128x64 model (~5 min)
    PYTHONPATH=. OUT=/some/dir python tools/gpu_session.py --part 2   # benchmark + 256x176 model (~4 min)

Every phase is time-boxed and independent: one that fails or runs out of time is recorded in
results/session-<part>.json and the others still run. What the project keeps is packed into OUT:
synthetic-*.pt (the shipped models, fp16) and results-<part>.tar.gz (eval tables, ablation
results, benchmark, logs, sample grids). `--smoke` runs every phase with tiny settings, to test
this script on a CPU first.
"""
import argparse, json, os, shutil, subprocess, sys, tarfile, time
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument('--part', type=int, choices=[1, 2], required=True)
p.add_argument('--budget-s', type=float, default=None, help='wall-clock seconds for this part')
p.add_argument('--smoke', action='store_true', help='tiny settings, to test the script on a CPU')
p.add_argument('--skip', nargs='*', default=[], help='phases to leave out')
p.add_argument('--ship256-minutes', type=float, default=1.5)
a = p.parse_args()

OUT = Path(os.environ.get('OUT', 'gpu-out')); OUT.mkdir(parents=True, exist_ok=True)
WORK = Path(os.environ.get('WORK', '/tmp/structflow-gpu')); WORK.mkdir(parents=True, exist_ok=True)
RES = WORK / f'results-{a.part}'; RES.mkdir(exist_ok=True)
T0 = time.time()
CPUS = os.cpu_count() or 2
S = a.smoke
BUDGET = a.budget_s or (380 if a.part == 1 else 250)

def cli(*args): return [sys.executable, '-m', 'structflow.cli'] + [str(x) for x in args]

# (name, command, seconds at most, run in the background?)
if a.part == 1:
    phases = [
        ('data128', cli('synth', '--out', WORK / 'data128', '--size', '64x32' if S else '128x64', '--identities', 24 if S else 600,
                        '--poses-per-identity', 4, '--seed', 0, '--workers', CPUS, '--quiet'), 60, False, CPUS),
        ('ablation', cli('ablation', '--preset', 'tiny' if S else 'demo', '--steps', 12 if S else 600, '--seeds', 3, '--eval-pairs', 16 if S else 300,
                         '--identities', 24 if S else 600, '--synth-workers', CPUS, '--jobs', 2 if S else 8, '--workers', 0,
                         '--allow-random-vgg', '--out', RES / 'ablation', '--work', WORK / 'ablation', '--quiet',
                         *(['--size', '64x32'] if S else [])), 250, True, 1),
        ('ship128', cli('train', '--data', WORK / 'data128', '--preset', 'synthetic-128x64', '--out', WORK / 'ship128', '--workers', 0 if S else 3,
                        '--time-budget', 0.2 if S else 2.0, '--quiet', *(['--size', '64x32'] if S else [])), 200, False, 4),
        ('eval128', cli('eval', '--checkpoint', WORK / 'ship128' / 'model.pt', '--data', WORK / 'data128', '--out', RES / 'eval128', '--quiet'), 40, False, 4),
        ('bench', cli('bench', '--preset', *(['tiny'] if S else ['deepfashion']), '--batch-size', 2 if S else 16, '--quick', '--json', RES / 'bench-gpu.json',
                      '--time-limit', 20 if S else 60, *(['--no-df6'] if S else [])), 90, 'after-background', 8),
    ]
else:
    phases = [
        ('bench', cli('bench', '--preset', *(['tiny'] if S else ['demo', 'market', 'deepfashion']), '--json', RES / 'bench-gpu.json',
                      '--time-limit', 20 if S else 100, *(['--quick', '--no-df6'] if S else ['--df6', '--ablate-gpu-opts'])), 120, False, 8),
        ('data256', cli('synth', '--out', WORK / 'data256', '--size', '64x48' if S else '256x176', '--identities', 12 if S else 300,
                        '--poses-per-identity', 4, '--seed', 0, '--workers', CPUS, '--quiet'), 60, False, CPUS),
        ('ship256', cli('train', '--data', WORK / 'data256', '--preset', 'synthetic-256x176', '--out', WORK / 'ship256',
                        '--time-budget', 0.2 if S else a.ship256_minutes, '--quiet', *(['--size', '64x48', '--workers', 0] if S else [])), 150, False, 4),
        ('eval256', cli('eval', '--checkpoint', WORK / 'ship256' / 'model.pt', '--data', WORK / 'data256', '--out', RES / 'eval256', '--quiet'), 60, False, 4),
    ]

session = {'argv': sys.argv, 'cpus': CPUS, 'phases': []}
try:
    import torch
    session['torch'] = torch.__version__
    session['device'] = torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'
except Exception as e: session['torch'] = f'unavailable: {e}'

def save_session(): (RES / f'session-{a.part}.json').write_text(json.dumps(session, indent=1))

def pack():
    "The shipped models (fp16, with their eval) and a tarball of the small results, into OUT."
    sys.path.insert(0, str(Path(__file__).parent))
    from ship_model import pack_model
    for run, name, ev in (('ship128', 'synthetic-128x64', 'eval128'), ('ship256', 'synthetic-256x176', 'eval256')):
        if not (WORK / run / 'model.pt').exists() or not (RES / ev / 'metrics.json').exists(): continue
        pack_model(WORK / run, RES / ev, OUT / f'{name}.pt', next((ph['cmd'] for ph in session['phases'] if ph['name'] == run), None))
        for f in ('config.json', 'summary.json', 'log.jsonl'):
            if (WORK / run / f).exists(): shutil.copy(WORK / run / f, RES / f'{run}-{f}')
        samples = sorted((WORK / run / 'samples').glob('*.png'))
        if samples: shutil.copy(samples[-1], RES / f'{run}-samples.png')
    with tarfile.open(OUT / f'results-{a.part}.tar.gz', 'w:gz') as t: t.add(RES, arcname=f'results-{a.part}')

def finish(rec, r_out, r_err, code):
    rec.update(status='ok' if code == 0 else f'exit {code}', tail=(r_out or '')[-3000:] + '\n' + (r_err or '')[-3000:])

background = []
def wait_background():
    for rec, proc, t, limit, lf in background:
        try: code = proc.wait(timeout=max(1, limit - (time.time() - t)))
        except subprocess.TimeoutExpired: proc.kill(); code = 'timeout'
        lf.close()
        rec.update(status='ok' if code == 0 else f'exit {code}', seconds=round(time.time() - t, 1),
                   tail=(RES / f"{rec['name']}.log").read_text()[-3000:])
        print(f"[{time.time() - T0:6.0f} s] {rec['name']}: {rec['status']} in {rec['seconds']} s", flush=True)
        if rec['status'] != 'ok': print(rec['tail'][-1500:], flush=True)
        save_session()
    background.clear()

phases = [ph for ph in phases if ph[0] not in a.skip]
for name, cmd, limit, bg, threads in phases:
    if bg == 'after-background': wait_background(); bg = False
    left = BUDGET - (time.time() - T0) - 20  # keep time to pack
    rec = {'name': name, 'cmd': ' '.join(map(str, cmd)), 'start_s': round(time.time() - T0, 1)}
    session['phases'].append(rec)
    if left < 15: rec['status'] = 'skipped: out of time'; save_session(); continue
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}
    if bg:
        lf = open(RES / f'{name}.log', 'w')
        background.append((rec, subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, text=True, env=env), time.time(), min(limit, left), lf))
        print(f'[{time.time() - T0:6.0f} s] {name}: started in the background', flush=True); continue
    t = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=min(limit, left), env=env)
        finish(rec, r.stdout, r.stderr, r.returncode)
    except subprocess.TimeoutExpired as e:
        rec.update(status='timeout', tail=str(e.stdout or '')[-2000:] + str(e.stderr or '')[-2000:])
    rec['seconds'] = round(time.time() - t, 1)
    print(f"[{time.time() - T0:6.0f} s] {name}: {rec['status']} in {rec['seconds']} s", flush=True)
    if rec['status'] != 'ok': print(rec['tail'][-1500:], flush=True)
    save_session()
    try: pack()
    except Exception as e: print(f'pack failed: {e}', flush=True)
wait_background()
try: pack()
except Exception as e: print(f'pack failed: {e}', flush=True)
print(json.dumps([(ph['name'], ph.get('status'), ph.get('seconds')) for ph in session['phases']]))
