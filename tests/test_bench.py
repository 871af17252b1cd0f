"""`structflow bench` end to end on the CPU (tiny preset, seconds), its JSON, and its fail-safe behaviour."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST = ['--preset', 'tiny', '--device', 'cpu', '--size', '64x32', '--batch-size', '2', '--steps', '2', '--warmup', '1', '--quick',
        '--loader-seconds', '0.5', '--quiet']
# packages a bare GPU machine lacks; the benchmark must run without them
HIDE = textwrap.dedent('''
    import sys  # None in sys.modules: importing raises ModuleNotFoundError and find_spec answers None, as for a package not installed
    for name in ('matplotlib', 'tqdm', 'nbdev', 'execnb', 'lpips', 'ipywidgets', 'ipyevents', 'IPython'): sys.modules[name] = None  # fastcore (pure Python, a runtime requirement) travels as a wheel
''')

def bench(*args, hide=False, timeout=600):
    code = HIDE * hide + 'import sys\nfrom structflow.cli import main\nsys.exit(main(sys.argv[1:]))'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    return subprocess.run([sys.executable, '-c', code, 'bench', *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)

def positive(x): return isinstance(x, (int, float)) and x > 0

def test_bench_tiny_end_to_end(tmp_path):
    "The tiny preset, every phase, on a machine without plotting, progress bars or notebook tools installed."
    out = tmp_path / 'b.json'
    r = bench(*FAST, '--json', str(out), hide=True)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-2000:]
    res = json.loads(out.read_text())
    assert res['format'] == 'structflow-bench' and res['version'] == 1 and res['errors'] == []
    assert 'stand_ins' not in res  # nothing installed in place of the hidden packages
    for k in ('device', 'cpu', 'cpu_count', 'torch', 'python', 'card'): assert k in res['machine']
    assert res['machine']['device'] == 'cpu' and res['machine']['card'] is None
    assert positive(res['matmul_peak']['tflops']) and res['matmul_peak']['dtype'] == 'float32'
    assert positive(res['synthetic']['64x32']['pairs_per_s'])
    t = res['presets']['tiny']
    assert {k: t['config'][k] for k in ('preset', 'size', 'batch_size', 'num_workers')} == {'preset': 'tiny', 'size': [64, 32], 'batch_size': 2, 'num_workers': 2}
    assert res['data']['64x32']['train']['pairs'] >= 48 and Path(t['config']['data']).name == 'data-64x32'
    for st in ('stage1', 'stage2'):
        assert positive(t[st]['images_per_s']) and positive(t[st]['step_ms']) and positive(t[st]['peak_mem_mb']), t[st]
        assert t[st]['steps'] >= 1 and t[st]['batch_size'] == 2
        assert abs(t[st]['images_per_s'] * t[st]['step_ms'] - 2000) < 1e-6 * 2000
    assert t['flops']['stage2_per_image'] > t['flops']['stage1_per_image'] > 0 and positive(t['flops']['generator_forward_per_image'])
    assert positive(t['inference']['latency_ms_b1']) and positive(t['inference']['throughput_images_per_s'])
    assert t['loader']['num_workers'] == 2 and positive(t['loader']['cached']['items_per_s']) and positive(t['loader']['no_cache']['items_per_s'])
    assert positive(t['loader']['cached']['ratio_to_stage1'])
    assert all(positive(t['hotspots'][k]) for k in ('max_similarity_ms', 'target_vgg_ms', 'heatmaps_ms', 'lsam_loop_ms', 'lsam_one_warp_ms'))
    assert t['trainer']['vgg'] == 'random' and t['trainer']['sam_layers'] == {'relu3_1': 4, 'relu4_1': 8}
    row = res['table'][0]
    assert row['preset'] == 'tiny' and row['stage1_images_per_s'] == t['stage1']['images_per_s']
    assert positive(row['stage2_tflops']) and positive(row['stage2_mfu']) and isinstance(row['loader_ok'], bool)
    assert res['deepfashion_batch6'] is None and res['profile'] is None  # not asked for on a CPU
    md = out.with_suffix('.md').read_text()
    assert md.startswith('**structflow bench**') and '| tiny | 64x32 | 2 |' in md and md in r.stdout + '\n'

def test_bench_failing_phase_is_recorded(tmp_path):
    "A dataset folder that is not one: the trainer phase records the error naming it, the rest of the run goes on, exit code 1."
    empty = tmp_path / 'not-a-dataset'; empty.mkdir()
    out = tmp_path / 'b.json'
    r = bench(*FAST, '--json', str(out), '--data', str(empty))
    assert r.returncode == 1, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert 'error' in res['presets']['tiny']['trainer'] and str(empty) in res['presets']['tiny']['trainer']['error']
    assert any(e.startswith('trainer:') for e in res['errors'])
    assert positive(res['matmul_peak']['tflops'])  # measured anyway
    assert 'Problems:' in out.with_suffix('.md').read_text()

def test_bench_time_limit_skips_phases(tmp_path):
    out = tmp_path / 'b.json'
    r = bench(*FAST, '--json', str(out), '--time-limit', '0.01')
    assert r.returncode == 1, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert 'time limit' in res['matmul_peak']['skipped']
    assert all('skipped' in v for k, v in res['presets']['tiny'].items() if k not in ('config', 'summary'))

def test_bench_bad_arguments():
    assert bench('--preset', 'no-such-preset').returncode == 2
    assert bench('--steps', 'many').returncode == 2
    r = bench('--help')
    assert r.returncode == 0 and '--time-limit' in r.stdout and '--ablate-gpu-opts' in r.stdout

def test_bench_cuda_unavailable():
    import torch
    if torch.cuda.is_available(): pytest.skip('this machine has CUDA')
    r = bench('--device', 'cuda')
    assert r.returncode == 2 and 'CUDA is not available' in r.stderr
