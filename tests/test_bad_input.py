"""A clear answer to every bad input (issue: safe checkpoints and bad input).

Each case runs the command as a user would (`structflow.cli.main`, in this process so the suite stays fast; one
case also runs a second real process) and checks three things: the exit code, that the one-line message names the
file, line or path at fault, and that no traceback is printed. Checkpoints that would run code are covered in
tests/test_train.py (`test_crafted_checkpoint_is_refused_by_every_loader`).
"""
import os, sys, json, time, subprocess
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from structflow.cli import main
from structflow.runs import FolderLock
from structflow.data import DataError, HEADER
from structflow.pair_dataset import PairDataset
from structflow.pose import EXAMPLE_POSE, EXAMPLE_SIZE, MISSING, present
from structflow.pose_files import read_pose, COCO17
from structflow.train import PRETRAINED_DIR

SIZE = (64, 32)
TRAIN = ['--preset', 'tiny', '--size', '64x32', '--steps1', '2', '--steps2', '2', '--batch-size', '4', '--workers', '0',
         '--allow-random-vgg', '--quiet']

pytestmark = pytest.mark.usefixtures('one_thread')

@pytest.fixture(scope='module')
def data(synth_data): return synth_data  # conftest.py: 64x32 synthetic people, train and test splits

@pytest.fixture(scope='module')
def run(data, tmp_path_factory):
    "A finished tiny run trained with a RELATIVE --data path from the data's parent folder."
    out = tmp_path_factory.mktemp('run') / 'run'
    cwd = os.getcwd(); os.chdir(data.parent)
    try: assert main(['train', '--data', data.name, '--out', str(out), *TRAIN]) == 0
    finally: os.chdir(cwd)
    return out

# -- 2. resume: resolved paths, a new --data said aloud, contradicting flags refused -------------------------------------

def test_resume_from_another_folder(run, data, tmp_path, cli, monkeypatch):
    ck = torch.load(run / 'last.pt', weights_only=True)
    assert ck['config']['data'] == str(data.resolve())  # stored resolved, although given as a relative path
    monkeypatch.chdir(tmp_path)  # where 'data' means nothing
    rc, out, err = cli('train', '--out', run, '--resume', '--steps2', '3', '--quiet')
    assert rc == 0 and 'step 5' in out

def test_resume_with_moved_data_names_it_and_accepts_new_data(data, tmp_path, cli):
    import shutil
    moved = tmp_path / 'data'; shutil.copytree(data, moved)
    out = tmp_path / 'run'
    assert cli('train', '--data', moved, '--out', out, *TRAIN, '--max-steps', '1')[0] == 0
    moved.rename(tmp_path / 'elsewhere')
    rc, _, err = cli('train', '--out', out, '--resume')
    assert rc == 2 and str(moved) in err and '--data' in err and err.count('\n') == 1
    rc, _, err = cli('train', '--out', out, '--resume', '--data', tmp_path / 'elsewhere', '--quiet')
    assert rc == 0 and f"reading the data from {tmp_path / 'elsewhere'}" in err and str(moved) in err

@pytest.mark.parametrize('flags, named', [(['--preset', 'demo'], '--preset demo (the run has tiny)'),
                                          (['--stage', '2'], '--stage 2 (the run has both)'),
                                          (['--lr', '0.5'], '--lr 0.5 (the run has 0.001)'),
                                          (['--size', '128x64'], '--size 128x64 (the run has 64x32)'),
                                          (['--no-hdcb'], '--no-hdcb false (the run has true)')])
def test_resume_refuses_contradicting_flags(run, cli, flags, named):
    before = (run / 'last.pt').stat().st_mtime_ns
    rc, _, err = cli('train', '--out', run, '--resume', *flags)
    assert rc == 2 and named in err and str(run) in err and err.count('\n') == 1
    assert (run / 'last.pt').stat().st_mtime_ns == before  # nothing trained

def test_resume_accepts_agreeing_flags(run, cli):
    rc, _, err = cli('train', '--out', run, '--resume', '--preset', 'tiny', '--size', '64x32', '--stage', 'both', '--quiet')
    assert rc == 0, err

def test_stage1_run_hints_how_to_add_stage2(data, tmp_path, cli):
    out = tmp_path / 'run'
    assert cli('train', '--data', data, '--out', out, *TRAIN, '--stage', '1')[0] == 0
    rc, _, err = cli('train', '--out', out, '--resume', '--stage', 'both')
    assert rc == 2 and '--steps2 N' in err

def test_config_file_of_a_run_trains_the_same_experiment(run, data, tmp_path, cli):
    "The config.json a run writes is a --config file: the new run has the same settings."
    out = tmp_path / 'again'
    rc, _, err = cli('train', '--config', run / 'config.json', '--out', out, '--quiet')
    assert rc == 0, err
    first, again = (json.loads((r / 'config.json').read_text())['train'] for r in (run, out))
    assert again == first

@pytest.mark.parametrize('text,named', [('steps1: ten\n', "'steps1' must be an integer"), ('stesp1: 3\n', "unknown setting 'stesp1'"),
                                        ('train_preset: huge\n', "unknown training preset 'huge'"), ('[1, 2]\n', 'expected a mapping')])
def test_bad_config_file(tmp_path, cli, text, named):
    f = tmp_path / 'run.yaml'; f.write_text(text)
    rc, _, err = cli('train', '--config', f, '--out', tmp_path / 'out')
    assert rc == 2 and named in err and str(f) in err and err.count('\n') == 1
    assert not (tmp_path / 'out').exists()  # refused before any work

def test_config_and_resume_are_exclusive(run, tmp_path, cli):
    with pytest.raises(SystemExit) as e: cli('train', '--config', run / 'config.json', '--out', run, '--resume')
    assert e.value.code == 2

def test_train_refuses_a_folder_that_holds_a_run(run, data, cli):
    "Issue 27: a finished run is never overwritten without a word."
    before = {f: (run / f).stat().st_mtime_ns for f in ('last.pt', 'model.pt')}
    rc, _, err = cli('train', '--data', data, '--out', run, *TRAIN)
    assert rc == 2 and str(run) in err and '--resume' in err and '--overwrite' in err and err.count('\n') == 1
    assert {f: (run / f).stat().st_mtime_ns for f in before} == before  # nothing the user had is changed
    with pytest.raises(SystemExit) as e: cli('train', '--out', run, '--resume', '--overwrite')
    assert e.value.code == 2

def test_train_overwrite_starts_anew(data, tmp_path, cli):
    out = tmp_path / 'run'
    assert cli('train', '--data', data, '--out', out, *TRAIN)[0] == 0
    rc, _, err = cli('train', '--data', data, '--out', out, *TRAIN, '--overwrite')
    assert rc == 0, err

def test_non_finite_loss_stops_without_saving_it(data, tmp_path, cli, monkeypatch):
    "Issue 27: the first non-finite loss ends the run in one line; the checkpoint before it stays, none after it is written."
    import structflow.train as T
    from structflow.checkpoint import read_checkpoint
    real, calls = T.Trainer.step1, {'n': 0}
    def step1(self, batch):
        out = real(self, batch); calls['n'] += 1
        return {**out, 'total': torch.tensor(float('nan'))} if calls['n'] >= 3 else out
    monkeypatch.setattr(T.Trainer, 'step1', step1)
    out = tmp_path / 'run'
    args = [x if x != '2' else '6' for x in TRAIN]  # 6 + 6 steps
    rc, _, err = cli('train', '--data', data, '--out', out, *args, '--ckpt-every', '2')
    assert rc == 2 and 'non-finite' in err and 'step 2' in err and str(out) in err and err.count('\n') == 1
    ck = read_checkpoint(out / 'last.pt')
    assert ck['step'] == 2 and all(torch.isfinite(v).all() for v in ck['generator'].values() if v.is_floating_point())
    assert not (out / 'summary.json').exists()

# -- 3. output paths: checked before any work, one line naming the path ----------------------------------------------------

def test_train_out_is_a_file(data, tmp_path, cli):
    f = tmp_path / 'afile'; f.write_text('x')
    rc, _, err = cli('train', '--data', data, '--out', f, *TRAIN)
    assert rc == 2 and f"{f}: is a file" in err and err.count('\n') == 1

def test_train_out_under_a_file(data, tmp_path, cli):
    f = tmp_path / 'afile'; f.write_text('x')
    rc, _, err = cli('train', '--data', data, '--out', f / 'run', *TRAIN)
    assert rc == 2 and str(f / 'run') in err and 'cannot create' in err

def test_read_only_out(data, tmp_path, cli, monkeypatch):
    ro = tmp_path / 'ro'; ro.mkdir(); ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root writes anyway: make the write test fail as a read-only disk would
        import structflow.runs as C
        def refuse(*a, **kw): raise PermissionError(13, 'Permission denied')
        monkeypatch.setattr(C.tempfile, 'TemporaryFile', refuse)
    for args, path in [(['train', '--data', data, '--out', ro, *TRAIN], ro),
                       (['generate', '--checkpoint', 'synthetic-128x64', '--source', 'x.png', '--source-pose', 'p.json',
                         '--target-pose', 'p.json', '--out', ro / 'o.png'], ro / 'o.png')]:
        rc, _, err = cli(*args)
        assert rc == 2 and f"{path}: cannot write in {ro}" in err and 'Permission denied' in err
    ro.chmod(0o755)

def test_eval_out_checked_before_the_work(data, tmp_path, cli, monkeypatch):
    import structflow.evaluate as M
    def never(*a, **kw): raise AssertionError('evaluation ran although its output cannot be written')
    monkeypatch.setattr(M, 'evaluate', never)
    f = tmp_path / 'afile'; f.write_text('x')
    rc, _, err = cli('eval', '--checkpoint', 'synthetic-128x64', '--data', data, '--out', f)
    assert rc == 2 and f"{f}: is a file" in err

@pytest.mark.parametrize('arch, ok', [('demo', True), ('market', False), ('synthetic-128x64', False)])
def test_eval_arch_checks_the_checkpoint(data, tmp_path, cli, capsys, monkeypatch, arch, ok):
    "--arch names an architecture (generator.ARCHS): the shipped 128x64 model is of `demo`; a training preset's name is refused by argparse."
    import structflow.evaluate as M
    class Reached(Exception): pass
    def reached(*a, **kw): raise Reached  # the checks passed and the evaluation would start
    monkeypatch.setattr(M, 'LPIPS', reached)
    args = ('eval', '--checkpoint', 'synthetic-128x64', '--data', data, '--arch', arch, '--out', tmp_path / 'e')
    if ok:
        with pytest.raises(Reached): cli(*args)
    elif arch == 'market':
        rc, _, err = cli(*args)
        assert rc == 2 and "not of architecture 'market'" in err, err
    else:
        with pytest.raises(SystemExit) as e: cli(*args)
        assert e.value.code == 2 and "--arch: invalid choice: 'synthetic-128x64'" in capsys.readouterr().err

def test_eval_of_a_shipped_model_writes_here_not_into_the_package(data, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in PRETRAINED_DIR.iterdir())
    rc, out, err = cli('eval', '--checkpoint', 'synthetic-128x64', '--data', data, '--max-pairs', '2', '--quiet',
                       '--lpips-weights', tmp_path / 'none.pth', '--fid-weights', tmp_path / 'none.pth')
    assert rc == 0, err
    assert (tmp_path / 'eval-synthetic-128x64-test' / 'metrics.json').is_file()
    assert sorted(p.name for p in PRETRAINED_DIR.iterdir()) == before

@pytest.mark.parametrize('name, why', [('out.txt', 'must end in .png'), ('missing/out.png', 'does not exist'), ('adir', 'is a folder')])
def test_generate_out(tmp_path, cli, monkeypatch, name, why):
    import structflow.train as T
    def never(*a, **kw): raise AssertionError('the model was loaded although the output cannot be written')
    monkeypatch.setattr(T, 'load_model', never)
    (tmp_path / 'adir').mkdir()
    rc, _, err = cli('generate', '--checkpoint', 'synthetic-128x64', '--source', 'x.png', '--source-pose', 'p.json',
                     '--target-pose', 'p.json', '--out', tmp_path / name)
    assert rc == 2 and str(tmp_path / name) in err and why in err

# -- 4. one run per folder -------------------------------------------------------------------------------------------------

def test_second_run_on_a_held_folder_names_the_holder(data, tmp_path, cli):
    out = tmp_path / 'run'; out.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; from structflow.runs import FolderLock; '
                               f'l = FolderLock({str(out)!r}); print("held", flush=True); time.sleep(60)'],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        rc, _, err = cli('train', '--data', data, '--out', out, *TRAIN)
        assert rc == 2 and str(out) in err and f'process {holder.pid}' in err
        assert not (out / 'log.jsonl').exists() and not (out / 'last.pt').exists()
    finally: holder.kill(); holder.wait()
    assert cli('train', '--data', data, '--out', out, *TRAIN, '--max-steps', '1')[0] == 0  # the lock died with its process

# -- 5. `data check` fails first, on the right file and line ---------------------------------------------------------------

def small_split(root, n=3, size=(128, 64)):
    "A market-style train split of n images with the example pose."
    (root / 'train').mkdir(parents=True)
    ys, xs = '[' + ', '.join(str(int(v)) for v in EXAMPLE_POSE[:, 1]) + ']', '[' + ', '.join(str(int(v)) for v in EXAMPLE_POSE[:, 0]) + ']'
    names = [f'000{i}_c1.jpg' for i in range(n)]
    (root / 'market-annotation-train.csv').write_text(HEADER + '\n' + ''.join(f'{m}: {ys}: {xs}\n' for m in names))
    (root / 'market-pairs-train.csv').write_text('from,to\n' + ''.join(f'{a},{b}\n' for a, b in zip(names, names[1:])))
    for m in names: Image.new('RGB', size[::-1], (120, 60, 30)).save(root / 'train' / m, 'PNG')
    return names

def check(cli, root):
    return cli('data', 'check', root, '--split', 'train')

def test_header_only_pairs(tmp_path, cli):
    small_split(tmp_path); (tmp_path / 'market-pairs-train.csv').write_text('from,to\n')
    rc, out, _ = check(cli, tmp_path)
    assert rc == 1 and f"{tmp_path / 'market-pairs-train.csv'}, line 2: no pairs" in out
    with pytest.raises(DataError, match='no pairs'): PairDataset(tmp_path)

def test_mixed_sizes_name_the_odd_image(tmp_path, cli):
    names = small_split(tmp_path, n=4)
    Image.new('RGB', (32, 64)).save(tmp_path / 'train' / names[0], 'PNG')  # the FIRST image is the odd one
    rc, out, _ = check(cli, tmp_path)
    assert rc == 1 and f"not 128x64: {names[0]} (market-annotation-train.csv line 2)" in out
    with pytest.raises(DataError, match=f'must share one size; not 128x64: {names[0]}'): PairDataset(tmp_path)

def test_16_bit_png_is_not_white(tmp_path, cli):
    names = small_split(tmp_path)
    Image.fromarray(np.full((128, 64), 100 * 257, np.uint16)).save(tmp_path / 'train' / names[0], 'PNG')  # 16-bit grey 100/255
    assert Image.open(tmp_path / 'train' / names[0]).mode.startswith('I')
    assert check(cli, tmp_path)[0] == 0
    img = PairDataset(tmp_path)[0]['source']
    assert abs(float((img.mean() + 1) * 127.5) - 100) < 1

def test_latin1_csv(tmp_path, cli):
    small_split(tmp_path)
    f = tmp_path / 'market-annotation-train.csv'
    lines = f.read_text().splitlines(); lines[2] = lines[2].replace('0001_c1.jpg', 'caf\u00e9.jpg')
    f.write_bytes(('\n'.join(lines) + '\n').encode('latin-1'))
    rc, out, _ = check(cli, tmp_path)
    assert rc == 1 and f"{f}, line 3: not UTF-8 text (byte 0xe9)" in out
    with pytest.raises(DataError, match='line 3: not UTF-8'): PairDataset(tmp_path)

def test_trailing_empty_fields_are_accepted(tmp_path, cli):
    small_split(tmp_path)
    for f in ('market-annotation-train.csv', 'market-pairs-train.csv'):
        p = tmp_path / f; p.write_text(''.join(l + ',,\n' for l in p.read_text().splitlines()))
    assert check(cli, tmp_path)[0] == 0
    assert len(PairDataset(tmp_path)) == 2

# -- 6. pose files: read right, or refused with the file's name ------------------------------------------------------------

@pytest.fixture
def gen(tmp_path):
    "Arguments of `structflow generate` with the shipped model, a 128x64 source image and a good target pose."
    Image.new('RGB', (64, 128), (90, 90, 90)).save(tmp_path / 'src.png')
    good = tmp_path / 'good.json'; good.write_text(json.dumps(EXAMPLE_POSE.tolist()))
    def args(source_pose, target=good):
        return ['generate', '--checkpoint', 'synthetic-128x64', '--source', tmp_path / 'src.png', '--source-pose', source_pose,
                '--target-pose', target, '--out', tmp_path / 'out.png']
    return args

BAD_POSES = {'binary.json': (b'\x89PNG\r\n\x1a\n\x00\x00\xff\xfe', 'not a text file'),
             'ragged.json': (b'[[1, 2], [3]]', 'numbers only'),
             'string.json': (b'"nose at 3,4"', 'found a JSON str'),
             'people.json': (b'{"people": {"pose_keypoints_2d": [1, 2, 3]}}', "'people' must be a list"),
             'nobody.json': (b'{"people": []}', 'no person'),
             'truncated.json': (b'{"people": [{"pose_keypoints_2d": [1, 2', 'not valid JSON (line 1'),
             'allmissing.json': (json.dumps([[-1, -1]] * 18).encode(), 'no joint'),
             'coco_unlabelled.json': (json.dumps([[0, 0, 0]] * 17).encode(), 'no joint'),
             'outside.json': (json.dumps((EXAMPLE_POSE * 3).tolist()).encode(), 'outside the 128x64 image'),
             'shape.json': (json.dumps([[1, 2]] * 5).encode(), 'shape (5, 2)')}

@pytest.mark.parametrize('name', BAD_POSES)
def test_bad_pose_files(gen, tmp_path, cli, name):
    content, why = BAD_POSES[name]
    f = tmp_path / name; f.write_bytes(content)
    rc, _, err = cli(*gen(f))
    assert rc == 2 and str(f) in err and why in err and err.count('\n') == 1
    assert not (tmp_path / 'out.png').exists()

def test_confidence_column_and_coco_zeros(tmp_path):
    f = tmp_path / 'p.json'
    xyc = np.concatenate([EXAMPLE_POSE, np.full((18, 1), 0.9)], 1); xyc[4] = (0, 0, 0); xyc[7, 2] = 0.05
    f.write_text(json.dumps(xyc.tolist()))
    k = read_pose(f, EXAMPLE_SIZE)
    assert (k[[4, 7]] == MISSING).all() and np.array_equal(np.delete(k, [4, 7], 0), np.delete(EXAMPLE_POSE, [4, 7], 0))
    coco = np.zeros((17, 3)); coco[COCO17.index('nose')] = (*EXAMPLE_POSE[0], 2)  # COCO: v=2 labelled, the rest (0, 0, 0)
    f.write_text(json.dumps(coco.tolist()))
    assert present(read_pose(f)).tolist() == [True] + [False] * 17

def test_good_poses_generate(gen, tmp_path, cli):
    rc, out, err = cli(*gen(tmp_path / 'good.json'))
    assert rc == 0 and (tmp_path / 'out.png').is_file(), err

def test_real_process_prints_one_line(tmp_path):
    "The same answers from a real `structflow` process: exit 2, one line on stderr, no traceback."
    f = tmp_path / 'bin.json'; f.write_bytes(b'\x00\xff\xfe')
    Image.new('RGB', (64, 128)).save(tmp_path / 'src.png')
    r = subprocess.run([sys.executable, '-m', 'structflow.cli', 'generate', '--checkpoint', 'synthetic-128x64', '--source',
                        str(tmp_path / 'src.png'), '--source-pose', str(f), '--target-pose', str(f), '--out', str(tmp_path / 'o.png')],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and str(f) in r.stderr and 'Traceback' not in r.stderr

# -- numbers that mean nothing and unknown devices: refused at parse time by every command, before any work -------------

@pytest.mark.parametrize('args, flag, why', [
    (['train', '--out', '{out}', '--batch-size', '0'], '--batch-size', 'must be > 0'),
    (['train', '--out', '{out}', '--time-budget', '-5'], '--time-budget', 'must be >= 0'),
    (['train', '--out', '{out}', '--steps1', '-1'], '--steps1', 'must be >= 0'),
    (['train', '--out', '{out}', '--seed', '-3'], '--seed', 'must be >= 0'),
    (['train', '--out', '{out}', '--lr', 'nan'], '--lr', 'finite'),
    (['train', '--out', '{out}', '--device', 'cdua'], '--device', "unknown device 'cdua'"),
    (['train', '--out', '{out}', '--device', 'mps'], '--device', 'not available'),
    (['demo', '--out', '{out}', '--identities', '-1'], '--identities', 'must be > 0'),
    (['demo', '--out', '{out}', '--steps2', '2.5'], '--steps2', 'expected an integer'),
    (['eval', '--checkpoint', 'synthetic-128x64', '--data', '{out}', '--batch-size', '-4'], '--batch-size', 'must be > 0'),
    (['eval', '--checkpoint', 'synthetic-128x64', '--data', '{out}', '--device', 'tpu'], '--device', 'tpu'),
    (['ablation', '--out', '{out}', '--seeds', '0'], '--seeds', 'must be > 0'),
    (['ablation', '--out', '{out}', '--workers', '-2'], '--workers', 'must be >= 0'),
    (['study', '--out', '{out}', '--jobs', '0'], '--jobs', 'must be > 0'),
    (['bench', '--json', '{out}', '--steps', '-1'], '--steps', 'must be > 0'),
    (['bench', '--json', '{out}', '--time-limit', '0'], '--time-limit', 'must be > 0'),
])
def test_bad_numbers_and_devices_refused_at_parse_time(tmp_path, capsys, args, flag, why):
    out = tmp_path / 'out'
    try: rc = main([a.replace('{out}', str(out)) for a in args])  # a command may turn argparse's exit into its return code
    except SystemExit as e: rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and f"argument {flag}" in err and why in err and 'Traceback' not in err, err
    assert [l for l in err.splitlines() if 'error:' in l] == [err.splitlines()[-1]]  # one line says what is wrong
    assert not out.exists()  # nothing was made

def test_a_config_file_with_meaningless_numbers_is_refused(tmp_path, cli):
    f = tmp_path / 'run.yaml'; f.write_text('preset: tiny\nsteps1: -3\n')
    rc, _, err = cli('train', '--config', f, '--out', tmp_path / 'out')
    assert rc == 2 and 'steps1 must be at least 0' in err and err.count('\n') == 1 and not (tmp_path / 'out').exists()

def test_a_failed_start_leaves_no_trace(data, tmp_path, cli):
    "Class 1: a start that fails (here: no such data) leaves neither a `.lock` nor the folders it made; a folder of the user's keeps its files."
    out = tmp_path / 'new' / 'deeper' / 'run'
    rc, _, err = cli('train', '--out', out, '--data', tmp_path / 'nodata', *TRAIN)
    assert rc == 2 and str(tmp_path / 'nodata') in err and err.count('\n') == 1
    assert not (tmp_path / 'new').exists()
    mine = tmp_path / 'mine'; mine.mkdir(); (mine / 'notes.txt').write_text('mine')
    rc, _, err = cli('train', '--out', mine, '--data', tmp_path / 'nodata', *TRAIN)
    assert rc == 2 and sorted(p.name for p in mine.iterdir()) == ['notes.txt'] and (mine / 'notes.txt').read_text() == 'mine'
    rc, _, err = cli('train', '--out', mine, '--resume')  # a resume of a folder without a run: the same
    assert rc == 2 and 'no checkpoint' in err and sorted(p.name for p in mine.iterdir()) == ['notes.txt']

# -- 3. a checkpoint's contents are checked, not only its keys ----------------------------------------------------------

@pytest.mark.parametrize('change, why', [
    (lambda ck: ck.update(model_config=['not', 'a', 'mapping']), 'model_config is a list'),
    (lambda ck: ck['model_config'].update(size=(-64, 32)), 'model_config.size'),
    (lambda ck: ck.update(step='12'), "step is '12', not a count"),
    (lambda ck: ck.update(rng={'python': 1}), 'rng is not the random states'),
    (lambda ck: ck.update(opt_g=[1, 2]), 'opt_g is not an optimiser state'),
    (lambda ck: ck['generator'].update({next(iter(ck['generator'])): torch.zeros(1).expand(10 ** 7)}), 'claims 10,000,000 elements'),
    (lambda ck: ck['generator'].pop(next(iter(ck['generator']))), '1 missing, 0 unexpected, 0 of another shape'),
    (lambda ck: ck.update(config={'arch': 'tiny', 'batch_size': 'eight'}), 'training configuration is not valid'),
])
def test_crafted_training_state_is_one_line(run, tmp_path, cli, change, why):
    import shutil
    work = tmp_path / 'run'; shutil.copytree(run, work)
    ck = torch.load(work / 'last.pt', weights_only=True); change(ck); torch.save(ck, work / 'last.pt')
    before = (work / 'last.pt').read_bytes()
    rc, _, err = cli('train', '--out', work, '--resume', '--quiet')
    assert rc == 2 and str(work / 'last.pt') in err and why in err and err.count('\n') == 1, err
    assert (work / 'last.pt').read_bytes() == before  # the user's checkpoint is untouched

@pytest.mark.parametrize('content, kind', [(b'{"nose": [1, 2]}', 'JSON text'), (b'\x89PNG\r\n\x1a\n' + bytes(32), 'a PNG image')])
def test_a_file_that_is_not_a_checkpoint_is_named_as_such(tmp_path, cli, content, kind):
    f = tmp_path / 'model.pt'; f.write_bytes(content)
    rc, _, err = cli('eval', '--checkpoint', f, '--data', tmp_path, '--out', tmp_path / 'e')
    assert rc == 2 and f"{f}: not a structflow checkpoint: it is {kind}" in err and 'run code' not in err and err.count('\n') == 1

# -- 4. OS errors and any path's bytes: one line, nothing lost -----------------------------------------------------------

def test_a_full_disk_at_save_time_is_one_line_and_keeps_the_last_checkpoint(run, tmp_path, cli, monkeypatch):
    import shutil
    work = tmp_path / 'run'; shutil.copytree(run, work)
    before = (work / 'last.pt').read_bytes()
    def full(*a, **kw): raise OSError(28, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full)
    rc, _, err = cli('train', '--out', work, '--resume', '--steps2', '4', '--quiet')
    assert rc == 2 and 'No space left on device' in err and str(work) in err and err.count('\n') == 1, err
    assert (work / 'last.pt').read_bytes() == before and not list(work.glob('*.tmp'))

def test_paths_that_are_not_utf8_survive_the_reports(data, tmp_path, cli):
    import shutil
    odd = Path(os.fsdecode(bytes(tmp_path) + b'/data\xff')); shutil.copytree(data, odd)
    rc, out, err = cli('eval', '--checkpoint', 'synthetic-128x64', '--data', odd, '--max-pairs', '2', '--quiet', '--grid', '0',
                       '--lpips-weights', tmp_path / 'none.pth', '--fid-weights', tmp_path / 'none.pth', '--out', tmp_path / 'e')
    assert rc == 0, err
    assert b'/data\xff' in (tmp_path / 'e' / 'metrics.md').read_bytes()  # the folder's own bytes, written back as they are

@pytest.mark.parametrize('cmd', ['demo', 'study', 'figures'])
def test_outputs_are_checked_before_any_work(tmp_path, cli, cmd):
    f = tmp_path / 'afile'; f.write_text('mine')
    rc, _, err = cli(cmd, '--out', f)
    assert rc == 2 and f"{f}: is a file" in err and err.count('\n') == 1 and f.read_text() == 'mine'

# -- 5. `data check` and the loader agree, and the check never crashes --------------------------------------------------

def _copy(data, tmp_path):
    import shutil
    d = tmp_path / 'd'; shutil.copytree(data, d); return d

def test_data_check_and_loader_on_broken_truth_and_pairs(data, tmp_path, cli):
    d = _copy(data, tmp_path)
    truth = d / 'synthetic-truth-test.npz'
    z = dict(np.load(truth)); z['flow'] = z['flow'].copy(); z['flow'][1, 0, 3, 3] = np.inf; np.savez(truth, **z)
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert rc == 1 and f"problem: {truth}: array 'flow': 1 of its" in out and 'NaN or infinite' in out
    with pytest.raises(DataError, match='NaN or infinite'): PairDataset(d, 'test', size=SIZE)  # the loader refuses the same file
    z['flow'][1, 0, 3, 3] = 0; z['image_names'] = np.array(list(z['image_names']), dtype=object); np.savez(truth, **z)
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert rc == 1 and f"problem: {truth}: cannot read its arrays" in out
    pairs = d / 'synthetic-pairs-test.csv'; pairs.unlink(); pairs.mkdir()
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert rc == 1 and f"problem: {pairs}: is a folder, not a file" in out

def test_data_check_notes_duplicates_self_pairs_and_finds_dot_files(data, tmp_path, cli):
    d = _copy(data, tmp_path)
    pairs, ann = d / 'synthetic-pairs-test.csv', d / 'synthetic-annotation-test.csv'
    rows = pairs.read_text().splitlines(); a = rows[1].split(',')[0]
    pairs.write_text('\n'.join(rows + [rows[1], f'{a},{a}']) + '\n')
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert f"1 pairs are listed twice (first: line {len(rows) + 1} repeats line 2)" in out and f"1 pairs map an image to itself (first: line {len(rows) + 2})" in out
    pairs.write_text('\n'.join(rows) + '\n')
    (d / 'test' / a).rename(d / 'test' / f'.{a}')  # an annotated image whose name starts with a dot
    lines = ann.read_text().splitlines(); lines = [('.' + l if l.startswith(a + ':') else l) for l in lines]; ann.write_text('\n'.join(lines) + '\n')
    pairs.write_text('\n'.join(r.replace(a, '.' + a) for r in rows) + '\n')
    (d / 'synthetic-truth-test.npz').unlink()  # its names are the old ones; the dot-file is what is tested here
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert 'not found' not in out, out  # the check finds it, as the loader does
    assert len(PairDataset(d, 'test', size=SIZE)) > 0

def test_exif_turned_photos_are_read_upright_and_said(data, tmp_path, cli):
    d = _copy(data, tmp_path)
    n = sorted((d / 'test').iterdir())[0]
    with Image.open(n) as im: rgb = im.convert('RGB')
    turned = rgb.transpose(Image.Transpose.ROTATE_90)  # stored turned, W x H ...
    ex = turned.getexif(); ex[0x0112] = 6  # ... with the tag that tells viewers to turn it back
    turned.save(n, format='PNG', exif=ex.tobytes())
    from structflow.pair_dataset import open_rgb, image_size
    assert image_size(n) == (rgb.height, rgb.width) and open_rgb(n).size == rgb.size  # read upright, as a viewer shows it
    rc, out, _ = cli('data', 'check', d, '--split', 'test')
    assert '1 images are stored turned (EXIF orientation' in out and 'reads them upright' in out, out

def test_resume_on_other_data_is_refused(run, data, tmp_path, cli):
    "Class 5: a resume pointed at data the run was not trained on (other image size, other pairs) is refused in one line, the run untouched."
    import shutil
    from structflow.synthetic_dataset import make_dataset
    work = tmp_path / 'run'; shutil.copytree(run, work)
    before = (work / 'last.pt').read_bytes()
    bigger = tmp_path / 'bigger'; make_dataset(bigger, size=(128, 64), identities=4, poses_per_identity=3, seed=5, progress=False)
    fewer = tmp_path / 'fewer'; shutil.copytree(data, fewer)
    pairs = fewer / 'synthetic-pairs-train.csv'; rows = pairs.read_text().splitlines(); pairs.write_text('\n'.join(rows[:-3]) + '\n')
    for other, what in ((bigger, '128x64 images'), (fewer, f'{len(rows) - 4} training pairs')):
        rc, _, err = cli('train', '--out', work, '--resume', '--data', other, '--steps2', '4', '--quiet')
        assert rc == 2 and err.count('\n') == 2 and what in err.splitlines()[-1] and 'the run was trained on 64x32 images' in err, err  # the note naming the new data, then the refusal
    assert (work / 'last.pt').read_bytes() == before

def test_second_round_hostile_cases(tmp_path, cli):
    "New cases tried after the fixes: a config file's bad value names the file; an export is never overwritten without a word; a folder of photos wants a folder out."
    f = tmp_path / 'run.yaml'; f.write_text('arch: huge\n')
    rc, _, err = cli('train', '--config', f, '--out', tmp_path / 'r')
    assert rc == 2 and err.startswith(f'structflow train: error: {f}: unknown architecture') and not (tmp_path / 'r').exists()
    assert cli('export', '--checkpoint', 'synthetic-128x64', '--out', tmp_path / 'hub')[0] == 0
    before = (tmp_path / 'hub' / 'model.safetensors').read_bytes()
    rc, _, err = cli('export', '--checkpoint', 'synthetic-128x64', '--out', tmp_path / 'hub')
    assert rc == 2 and 'holds model.safetensors and config.json already' in err and (tmp_path / 'hub' / 'model.safetensors').read_bytes() == before
    (tmp_path / 'photos').mkdir(); Image.new('RGB', (32, 64)).save(tmp_path / 'photos' / 'a.png')
    rc, _, err = cli('generate', '--checkpoint', 'synthetic-128x64', '--source', tmp_path / 'photos', '--source-pose', tmp_path / 'p.csv',
                     '--target-pose', tmp_path / 'p.json', '--out', tmp_path / 'out.png')
    assert rc == 2 and 'for a folder of photos, --out is a folder' in err and not (tmp_path / 'out.png').exists()
