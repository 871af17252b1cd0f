"""`structflow synth` end to end, as a user runs it: tiny datasets, reproducibility, bad arguments."""
import filecmp, json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

def synth(*args):
    "Run `structflow synth ARGS` (the console script when installed, else `python -m structflow.cli`)."
    exe = shutil.which('structflow')
    cmd = [exe] if exe else [sys.executable, '-m', 'structflow.cli']
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    return subprocess.run(cmd + ['synth', *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)

def read_annotations(path):
    "name -> (18,2) int (x, y) from a name:keypoints_y:keypoints_x file."
    lines = Path(path).read_text().splitlines()
    assert lines[0] == 'name:keypoints_y:keypoints_x'
    out = {}
    for line in lines[1:]:
        name, ys, xs = line.split(':')
        out[name] = np.stack([json.loads(xs), json.loads(ys)], 1)
    return out

def test_tiny_dataset(tmp_path):
    out = tmp_path / 'synth'
    r = synth('--out', out, '--size', '32x16', '--identities', 4, '--poses-per-identity', 3, '--seed', 5, '--test-fraction', 0.25, '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'train 3 people' in r.stdout and 'test 1 people' in r.stdout
    ids = {}
    for sp, n_img, n_pairs in (('train', 9, 18), ('test', 3, 6)):
        ann = read_annotations(out / f'synthetic-annotation-{sp}.csv')
        assert len(ann) == n_img
        for name, k in ann.items():
            assert k.shape == (18, 2) and ((k == -1) | ((k >= 0) & (k <= [15, 31]))).all(), name
            from PIL import Image
            with Image.open(out / sp / name) as im: assert im.size == (16, 32) and im.mode == 'RGB'
        pairs = [l.split(',') for l in (out / f'synthetic-pairs-{sp}.csv').read_text().splitlines()]
        assert pairs[0] == ['from', 'to'] and len(pairs) - 1 == n_pairs
        assert all(a in ann and b in ann and a != b and a[:5] == b[:5] for a, b in pairs[1:])
        z = np.load(out / f'synthetic-truth-{sp}.npz')  # no pickles needed
        assert z['flow'].shape == (n_pairs, 2, 32, 16) and z['flow'].dtype == np.float16
        assert z['visibility'].shape == (n_pairs, 32, 16) and set(np.unique(z['visibility'])) <= {0, 1}
        assert z['person'].shape == z['labels'].shape == (n_img, 32, 16)
        assert [list(p) for p in zip(z['pair_from'], z['pair_to'])] == pairs[1:]
        assert sorted(z['image_names']) == sorted(ann)
        ids[sp] = {n.split('_')[0] for n in ann}
    assert not ids['train'] & ids['test']
    info = json.loads((out / 'synthetic-info.json').read_text())
    assert info['size'] == [32, 16] and info['seed'] == 5

def test_same_seed_same_bytes(tmp_path):
    args = ('--size', '32x16', '--identities', 3, '--poses-per-identity', 2, '--seed', 1, '--quiet')
    assert synth('--out', tmp_path / 'a', *args).returncode == 0
    assert synth('--out', tmp_path / 'b', *args, '--workers', 2).returncode == 0
    files = [f.relative_to(tmp_path / 'a') for f in (tmp_path / 'a').rglob('*') if f.is_file()]
    assert len(files) == 6 + 7  # 6 PNG, 2 annotation + 2 pair CSV, 2 npz, info
    for f in files: assert filecmp.cmp(tmp_path / 'a' / f, tmp_path / 'b' / f, shallow=False), f

@pytest.mark.parametrize('bad, message', [(['--size', '100'], 'HxW'), (['--size', '0x64'], 'at least')])
def test_bad_size(tmp_path, bad, message):
    "As a user sees it: a non-zero exit and a message naming the argument."
    r = synth('--out', tmp_path / 'bad', *bad)
    assert r.returncode != 0
    assert 'error: argument --size' in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / 'bad').exists()  # nothing written

@pytest.mark.parametrize('bad, message', [
    (['--size', '64xabc'], 'HxW'), (['--size=-3x5'], 'HxW'), (['--identities', '0'], '--identities'),
    (['--poses-per-identity', '1'], '--poses-per-identity'), (['--test-fraction', '1'], '--test-fraction'),
    (['--seed', 'x'], '--seed'), (['--workers', '0'], '--workers')])
def test_bad_arguments(tmp_path, bad, message, capsys):
    "The same parser in-process (no interpreter start per case)."
    from structflow.synthetic_dataset import synth_cli
    assert synth_cli(['--out', str(tmp_path / 'bad'), *bad]) == 2
    err = capsys.readouterr().err
    assert 'error' in err and message in err, err
    assert not (tmp_path / 'bad').exists()

def test_missing_out_help_and_bad_folder(tmp_path, capsys):
    from structflow.synthetic_dataset import synth_cli
    assert synth_cli(['--size', '32x16']) == 2 and '--out' in capsys.readouterr().err
    assert synth_cli(['--help']) == 0 and 'usage: structflow synth' in capsys.readouterr().out
    (tmp_path / 'f').write_text('x')
    assert synth_cli(['--out', str(tmp_path / 'f'), '--size', '32x16', '--identities', '1', '--quiet']) == 1
    assert 'not a folder' in capsys.readouterr().err
