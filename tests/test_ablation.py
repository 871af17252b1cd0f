"""`structflow ablation` end to end: a tiny study in a temp dir, resuming, and bad arguments."""
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

TINY = ['--preset', 'demo', '--size', '64x32', '--identities', '10', '--poses', '3', '--steps', '2', '--seeds', '2',
        '--allow-random-vgg', '--device', 'cpu', '--workers', '0', '--synth-workers', '1', '--grid-pairs', '2', '--quiet']

def cli(*args):
    "Run the console script as a user does (a fresh process, one torch thread)."
    import os
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.run(['structflow', 'ablation', *args], capture_output=True, text=True, timeout=900, env=env)

@pytest.fixture(scope='module')
def study(tmp_path_factory):
    "A finished tiny study: Full and w/o Part with 2 seeds, w/o PNB with one (w/o HDCB left out, added by a later test)."
    out = tmp_path_factory.mktemp('abl') / 'results'
    r = cli(*TINY, '--variants', 'full,no_part,no_pnb', '--out', str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r

def test_end_to_end(study):
    out, r = study
    from structflow.ablation import read_results, get_tiles, summary_rows
    res = read_results(out)
    assert sorted(res['runs']) == ['full-s0', 'full-s1', 'no_part-s0', 'no_part-s1', 'no_pnb-s0']
    assert res['complete'] is True and 'complete' in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ['figure6.png', 'results.json', 'summary.csv', 'work']
    assert (out / 'work' / '.gitignore').read_text().strip() == '*'  # checkpoints and data stay out of git
    # what the notebook needs: provenance, per-pair flow errors with the pairs' discrepancy, baselines
    inv = res['invocations'][0]
    assert inv['argv'][:2] == ['structflow', 'ablation'] and '--steps' in inv['argv'] and inv['wall_s'] > 0 and inv['torch']
    n = res['data']['eval_pairs']
    assert n == len(res['pairs']['discrepancy']) == len(res['baselines']['zero_flow_epe']) > 0
    for name, e in res['runs'].items():
        assert e['train']['step'] == 2 and e['train']['stage1_end'] == 1, name  # --steps 2: one step of each stage
        assert len(e['per_pair']['epe']) == len(e['per_pair']['epe_legs']) == len(e['per_pair']['ssim']) == n
        assert e['metrics']['epe'] > 0 and 0 < e['metrics']['ssim'] <= 1
        assert e['vgg']['weights'] == 'random'  # recorded: the losses used a random VGG
        assert set(e['bins']) == {'small', 'medium', 'large'}
    assert res['runs']['no_part-s0']['switches'] == {'parts': 'whole'} and res['runs']['no_pnb-s0']['switches'] == {'pnb': False}
    assert res['lpips']['available'] in (True, False) and ('reason' in res['lpips'] or res['lpips']['available'])
    # seeds really differ, variants really differ
    assert res['runs']['full-s0']['per_pair']['epe'] != res['runs']['full-s1']['per_pair']['epe']
    assert res['runs']['full-s0']['params'] > res['runs']['no_part-s0']['params']
    # summary.csv: one row per variant, with the spread where there are two seeds
    rows = summary_rows(res)
    assert [r['variant'] for r in rows] == ['full', 'no_part', 'no_pnb']
    assert rows[0]['seeds'] == 2 and rows[0]['epe_std'] is not None and rows[2]['epe_std'] is None
    csv_lines = (out / 'summary.csv').read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith('variant,label,seeds,ssim')
    # the grid: the inputs and the variants that ran are drawn, w/o HDCB's columns are blank
    g = res['grid']
    img = np.asarray(Image.open(out / 'figure6.png').convert('RGB'))
    assert img.shape == (2 * 64, len(g['columns']) * 32, 3)
    assert sorted(g['filled']) == ['full', 'no_part', 'no_pnb']
    assert get_tiles(img, g['columns'], 'image:full', (64, 32)).std() > 0
    assert (get_tiles(img, g['columns'], 'image:no_hdcb', (64, 32)) == 255).all()
    assert sum(f.stat().st_size for f in out.iterdir() if f.is_file()) < 1_000_000

def test_resume_skips_finished_runs(study, tmp_path):
    out, _ = study
    before = json.loads((out / 'results.json').read_text())
    r = cli(*TINY, '--variants', 'full,no_part,no_pnb', '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert '5 already in' in r.stdout and '0 to do' in r.stdout
    after = json.loads((out / 'results.json').read_text())
    assert after['runs'] == before['runs'] and len(after['invocations']) == len(before['invocations']) + 1

def test_resume_adds_missing_runs(study, tmp_path):
    "Asking for one more variant trains only that one, on the same data and test pairs."
    out, _ = study
    import shutil
    out2 = tmp_path / 'copy'; shutil.copytree(out, out2)
    r = cli(*TINY, '--variants', 'full,no_part,no_pnb,no_hdcb', '--out', str(out2))
    assert r.returncode == 0, r.stderr[-3000:]
    assert '5 already in' in r.stdout and '1 to do' in r.stdout
    res = json.loads((out2 / 'results.json').read_text())
    assert 'no_hdcb-s0' in res['runs'] and 'no_hdcb' in res['grid']['filled']
    old = json.loads((out / 'results.json').read_text())
    assert res['runs']['full-s0'] == old['runs']['full-s0']

def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    "A run that has a checkpoint but no results entry continues training from it instead of starting over."
    out = tmp_path / 'r'
    args = [*TINY, '--seeds', '1', '--variants', 'full', '--out', str(out), '--grid-pairs', '0']
    assert cli(*args, '--dry-run').returncode == 0 and not (out / 'results.json').exists()
    from structflow.ablation import variant_config
    from structflow.train import train
    cfg = variant_config('demo', 'full', 0, size=(64, 32), steps1=1, steps2=1, allow_random_vgg=True, num_workers=0, device='cpu',
                         data=str(out / 'work' / 'data'))
    from structflow.synthetic_dataset import make_dataset
    make_dataset(out / 'work' / 'data', size=(64, 32), identities=10, poses_per_identity=3, seed=0, progress=False)
    s = train(cfg, out / 'work' / 'runs' / 'full-s0', max_steps=1, quiet=True)  # stopped after stage 1
    assert s['status'] == 'max_steps'
    r = cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    assert res['runs']['full-s0']['train']['step'] == 2
    log = [json.loads(l) for l in (out / 'work' / 'runs' / 'full-s0' / 'log.jsonl').read_text().splitlines()]
    assert [l['step'] for l in log].count(1) == 1  # step 1 was not trained twice

@pytest.mark.parametrize('bad, msg', [
    (['--steps', '0'], 'must be > 0'),
    (['--seeds', '-1'], 'must be > 0'),
    (['--size', '64by32'], 'size must be HxW'),
    (['--size', '66x32'], 'divisible'),
    (['--variants', 'full,no_gan'], 'unknown'),
    (['--steps1', '5'], '--steps1 and --steps2 go together'),
    (['--steps1', '5', '--steps2', '5', '--steps', '3'], 'not both'),
    (['--preset', 'huge'], 'invalid choice'),
    (['--identities', '1'], 'at least 2'),
])
def test_bad_arguments(tmp_path, capsys, bad, msg):
    "In-process (fast): exit code 2, a message naming the problem, nothing written."
    from structflow.ablation_runner import ablation_cli
    try: rc = ablation_cli([*TINY, '--out', str(tmp_path / 'r'), *bad])
    except SystemExit as e: rc = e.code  # argparse's own errors
    assert rc == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / 'r').exists()

def test_other_settings_refused(study, tmp_path):
    "Runs of different settings never mix in one results folder."
    out, _ = study
    r = cli(*TINY, '--variants', 'full', '--out', str(out), '--steps', '3')
    assert r.returncode == 2 and 'other settings' in r.stderr and 'train.steps' in r.stderr

def test_out_is_a_file(tmp_path):
    (tmp_path / 'f').write_text('x')
    r = cli(*TINY, '--out', str(tmp_path / 'f'))
    assert r.returncode == 2 and 'not a folder' in r.stderr

def test_not_a_results_file(tmp_path):
    from structflow.ablation import read_results
    (tmp_path / 'results.json').write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match='not a structflow ablation results file'): read_results(tmp_path)
    (tmp_path / 'results.json').write_text('{oops')
    with pytest.raises(ValueError, match='results.json: not valid JSON'): read_results(tmp_path)
    with pytest.raises(FileNotFoundError, match='do not exist'): read_results(tmp_path / 'nothing')
    r = cli(*TINY, '--out', str(tmp_path))
    assert r.returncode == 2 and 'not valid JSON' in r.stderr

def test_parallel_jobs(tmp_path):
    "--jobs 2 trains in two worker processes (how a GPU run uses the card) and merges both runs."
    out = tmp_path / 'r'
    r = cli(*TINY, '--seeds', '1', '--variants', 'full,no_part', '--jobs', '2', '--out', str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    assert sorted(res['runs']) == ['full-s0', 'no_part-s0'] and res['complete'] is True
    assert res['invocations'][0]['jobs'] == 2
    assert sorted(res['grid']['filled']) == ['full', 'no_part']
