"""Training (structflow.train): exact resume, checkpoints that survive SIGKILL, SIGTERM/SIGINT, two processes,
clear errors, loading the results.

Every run is the `tiny` preset at 64x32 on one small synthetic dataset rendered once per session. One uninterrupted
reference run (`straight`) is shared: every interrupted-and-resumed run, in this process or on the command line, must
end with its weights. 42 training pairs in batches of 4 make 10 steps an epoch, so the 12 steps of a run cross an
epoch boundary and a resume can land in either epoch.
"""
import io, os, sys, json, time, random, signal, subprocess
from pathlib import Path
import pytest
import torch
from structflow.train import get_train_config, train, train_cli
from structflow.checkpoint import atomic_save, read_checkpoint, load_model
from structflow.generator import get_config, Generator

SIZE, STEPS1, STEPS2, BATCH = (64, 32), 6, 6, 4
TOTAL = STEPS1 + STEPS2
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
ENV.pop('WORLD_SIZE', None); ENV.pop('RANK', None)

@pytest.fixture(autouse=True)
def one_thread():
    "The subprocesses compute with one thread; so does this process, so that the results compare bit for bit."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def config(data, **kw):
    "The in-process twin of `cli_args` (sample grids and periodic checkpoints do not change the weights)."
    kw = dict(dict(data=str(data), size=SIZE, steps1=STEPS1, steps2=STEPS2, batch_size=BATCH, num_workers=0,
                   allow_random_vgg=True, sample_every=1000, ckpt_every=1000), **kw)
    return get_train_config('tiny', **kw)

def cli_args(data, out, *extra):
    return ['--data', str(data), '--out', str(out), '--preset', 'tiny', '--size', f'{SIZE[0]}x{SIZE[1]}',
            '--steps1', str(STEPS1), '--steps2', str(STEPS2), '--batch-size', str(BATCH), '--workers', '0',
            '--allow-random-vgg', '--quiet', *extra]

def start(args, **kw):
    "`python -m structflow.cli train ARGS` in the background (in the run folder's parent)."
    cwd = Path(args[args.index('--out') + 1]).parent
    return subprocess.Popen([sys.executable, '-m', 'structflow.cli', 'train', *args], env=ENV, text=True, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

def finish(p, timeout=180):
    try: out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill(); out, err = p.communicate()
        pytest.fail(f'training process timed out\n{err[-3000:]}')
    return p.returncode, out, err

def wait_until(cond, p, timeout=120, what='', poll=0.02):
    "Poll `cond()` while process `p` runs; fail if it ends first or time runs out."
    t = time.time()
    while not cond():
        if p.poll() is not None:
            _, out, err = finish(p)
            pytest.fail(f'training ended (rc {p.returncode}) before {what}\n{out[-1000:]}\n{err[-3000:]}')
        if time.time() - t > timeout:
            p.kill(); p.wait(); pytest.fail(f'timed out waiting for {what}')
        time.sleep(poll)

def ckpt_id(run):
    "Identity of run/last.pt (each atomic write makes a new file), None when there is none."
    try: st = os.stat(Path(run) / 'last.pt'); return st.st_ino, st.st_mtime_ns
    except FileNotFoundError: return None

def assert_same_weights(run_a, run_b, atol=1e-5):
    a, b = read_checkpoint(Path(run_a) / 'last.pt'), read_checkpoint(Path(run_b) / 'last.pt')
    assert (a['step'], a['stage1_end'], a['epoch'], a['consumed']) == (b['step'], b['stage1_end'], b['epoch'], b['consumed'])
    for net in ('generator', 'discriminator'):
        assert a[net].keys() == b[net].keys()
        for k in a[net]:
            torch.testing.assert_close(a[net][k].float(), b[net][k].float(), atol=atol, rtol=0, msg=lambda m: f'{net} {k}: {m}')

@pytest.fixture(scope='session')
def straight(synth_data, tmp_path_factory):
    "The reference: both stages in one uninterrupted run."
    out = tmp_path_factory.mktemp('straight') / 'run'
    n = torch.get_num_threads(); torch.set_num_threads(1)
    try: s = train(config(synth_data), out, quiet=True)
    finally: torch.set_num_threads(n)
    assert (s['status'], s['step'], s['stage1_end']) == ('finished', TOTAL, STEPS1)
    from structflow.pair_dataset import PairDataset
    per_epoch = len(PairDataset(synth_data, 'train', size=SIZE)) // BATCH
    ck = read_checkpoint(out / 'last.pt')
    assert (ck['epoch'], ck['consumed']) == (1, (TOTAL - per_epoch) * BATCH)  # the run crossed an epoch boundary
    return out

# -- 1. N steps + resume + N steps == 2N steps --------------------------------------------------------------------------

@pytest.mark.parametrize('stop', [3, STEPS1 + 2], ids=['stop-in-stage1', 'stop-in-stage2'])
def test_resume_equals_straight_run(synth_data, straight, tmp_path, stop):
    run = tmp_path / 'run'
    s = train(config(synth_data), run, max_steps=stop, quiet=True)
    assert (s['status'], s['step']) == ('max_steps', stop)
    ck = read_checkpoint(run / 'last.pt')
    assert ck['step'] == stop and ck['format'] == 'structflow-train'
    assert ck['stage1_end'] == (None if stop < STEPS1 else STEPS1)
    s = train(config(synth_data), run, resume=True, quiet=True)
    assert (s['status'], s['step'], s['stage1_end']) == ('finished', TOTAL, STEPS1)
    assert_same_weights(run, straight)

# -- 2. SIGKILL while checkpoints are written ---------------------------------------------------------------------------

def test_sigkill_leaves_loadable_checkpoint(synth_data, straight, tmp_path):
    "Kill -9 a run that saves every step, a few times, at random moments and while a temporary file exists."
    seed = random.randrange(10 ** 6); rng = random.Random(seed)
    run, last, kills = tmp_path / 'run', -1, []
    for i in range(3):
        before = ckpt_id(run)
        p = start(cli_args(synth_data, run, '--ckpt-every', '1', *(['--resume'] if i else [])))
        wait_until(lambda: ckpt_id(run) not in (None, before), p, what='a new checkpoint')  # this process is training
        if i % 2 == 0:  # the moment a checkpoint is being written: a new temporary file exists
            old = {f.name for f in run.glob('*.tmp')}
            while p.poll() is None and not {f.name for f in run.glob('*.tmp')} - old: time.sleep(0.0005)
        else:
            time.sleep(rng.uniform(0, 0.8))
        if p.poll() is not None: break  # it finished in the meantime
        p.send_signal(signal.SIGKILL); finish(p)
        assert p.returncode == -signal.SIGKILL
        ck = read_checkpoint(run / 'last.pt')  # always loadable
        assert last <= ck['step'] <= TOTAL, f'seed {seed}'
        if (run / 'model.pt').exists(): read_checkpoint(run / 'model.pt')
        last = ck['step']; kills.append(last)
    assert kills, 'the run was never killed'
    leftovers = [f.name for f in run.iterdir() if f.name.endswith('.tmp')]
    assert all(n.split('.')[0] in ('last', 'model', 'stage1') for n in leftovers), leftovers  # only temporary files
    print(f'killed at steps {kills}; temporary files left: {leftovers}')
    s = train(config(synth_data), run, resume=True, quiet=True)  # (--resume on the command line above)
    assert (s['status'], s['step']) == ('finished', TOTAL)
    assert_same_weights(run, straight)  # killed and resumed runs end where the uninterrupted one ends

def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    "A write that breaks half-way (an error, or the process dying) leaves the previous checkpoint as it was."
    p = tmp_path / 'last.pt'
    atomic_save({'format': 'structflow-model', 'model_config': {}, 'generator': {}, 'step': 1, 'w': torch.arange(20000.)}, p)
    before = p.read_bytes()
    real_save = torch.save
    def half(obj, f, *a, **kw):  # writes half the bytes, then the disk "fills up"
        buf = io.BytesIO(); real_save(obj, buf); f.write(buf.getvalue()[:len(buf.getvalue()) // 2]); f.flush()
        raise OSError('no space left on device')
    monkeypatch.setattr(torch, 'save', half)
    from structflow.runs import OutputError
    with pytest.raises(OutputError, match='last.pt: cannot write .no space left on device.; the file there before is unchanged'): atomic_save({'format': 'structflow-model', 'model_config': {}, 'generator': {}, 'step': 2, 'w': torch.ones(20000)}, p)
    assert p.read_bytes() == before and read_checkpoint(p)['step'] == 1
    assert os.listdir(tmp_path) == ['last.pt']  # the temporary file was removed
    if not hasattr(os, 'fork'): return
    def die(obj, f, *a, **kw):  # the process dies half-way: no cleanup can run
        buf = io.BytesIO(); real_save(obj, buf); f.write(buf.getvalue()[:len(buf.getvalue()) // 2]); f.flush()
        os._exit(7)
    obj = {'format': 'structflow-model', 'model_config': {}, 'generator': {}, 'step': 3, 'w': torch.ones(20000)}
    pid = os.fork()
    if pid == 0:
        try:
            torch.save = die; atomic_save(obj, p)
        finally: os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7  # it died inside the write
    assert p.read_bytes() == before and read_checkpoint(p)['step'] == 1
    tmp = [f for f in tmp_path.iterdir() if f.name != 'last.pt']
    assert len(tmp) == 1 and tmp[0].name.startswith('last.pt.') and tmp[0].suffix == '.tmp' and tmp[0].stat().st_size > 0
    with pytest.raises(ValueError, match='not a readable checkpoint'): read_checkpoint(tmp[0])  # why the rename matters
    (tmp_path / 'truncated.pt').write_bytes(before[:len(before) // 2])
    with pytest.raises(ValueError, match='truncated.pt'): read_checkpoint(tmp_path / 'truncated.pt')

# -- 3. SIGTERM / SIGINT: save, exit non-zero, resume --------------------------------------------------------------------

def test_sigterm_sigint_save_and_resume(synth_data, straight, tmp_path):
    """SIGTERM, then SIGINT, sent to the whole process group (as SLURM or Ctrl-C in a terminal do, so the data-loading
    worker gets it too): the run saves the step it reached, says so in summary.json and exits with 128 + signal."""
    run, last = tmp_path / 'run', -1
    for i, sig in enumerate((signal.SIGTERM, signal.SIGINT)):
        args = cli_args(synth_data, run, '--ckpt-every', '3', *(['--resume'] if i else []))
        args[args.index('--workers') + 1] = '1'
        before = ckpt_id(run)
        p = start(args, start_new_session=True)
        wait_until(lambda: ckpt_id(run) not in (None, before), p, what='a periodic checkpoint')
        time.sleep(random.uniform(0, 0.4))
        os.killpg(p.pid, sig)
        rc, out, err = finish(p)
        assert rc == 128 + sig, f'rc {rc}\n{err[-3000:]}'
        s = json.loads((run / 'summary.json').read_text())
        assert (s['status'], s['signal']) == ('interrupted', sig.name)
        ck = read_checkpoint(run / 'last.pt')
        assert ck['step'] == s['step'] and last < ck['step'] < TOTAL  # saved where it stopped: nothing lost
        log = [json.loads(l) for l in (run / 'log.jsonl').read_text().splitlines()]
        assert max(r['step'] for r in log) <= ck['step']
        last = ck['step']  # (the SIGINT run is a --resume of the SIGTERM run: it continued)
    assert train(config(synth_data), run, resume=True, quiet=True)['step'] == TOTAL
    assert_same_weights(run, straight)

# -- 4. two processes ---------------------------------------------------------------------------------------------------

WRAPPER = '''"`python -m structflow.cli` that also saves every rank's final weights (test only)."
import sys, torch
import structflow.train as T
run = T.Trainer.run
def run_and_dump(self, *a, **kw):
    s = run(self, *a, **kw)
    torch.save({'generator': self.G.state_dict(), 'discriminator': self.D.state_dict()}, self.out / f'rank{self.rank}.pt')
    return s
T.Trainer.run = run_and_dump
from structflow.cli import main
sys.exit(main(sys.argv[1:]))
'''

def test_two_processes_gloo(synth_data, tmp_path):
    "torchrun with 2 CPU processes (gloo): it finishes and both ranks end with bit-identical weights."
    script, run = tmp_path / 'cli_dump.py', tmp_path / 'run'
    script.write_text(WRAPPER)
    args = cli_args(synth_data, run)
    args[args.index('--batch-size') + 1] = str(BATCH // 2)  # per process: the same effective batch
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(script), 'train', *args]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    s = json.loads((run / 'summary.json').read_text())
    assert (s['status'], s['step'], s['world_size'], s['ranks_in_sync']) == ('finished', TOTAL, 2, True)
    assert json.loads((run / 'config.json').read_text())['machine']['processes'] == 2
    r0, r1, ck = (torch.load(run / f, weights_only=True) for f in ('rank0.pt', 'rank1.pt', 'last.pt'))
    assert ck['world_size'] == 2
    for net in ('generator', 'discriminator'):
        for k in r0[net]:
            assert torch.equal(r0[net][k], r1[net][k]), f'{net} {k} differs between the ranks'
            assert torch.equal(r0[net][k], ck[net][k]), f'{net} {k}: last.pt is not rank 0'

# -- 5. clear errors -------------------------------------------------------------------------------------------------------

def test_resume_without_checkpoint_fails_clearly(synth_data, tmp_path, capsys):
    run = tmp_path / 'run'
    assert train_cli(cli_args(synth_data, run, '--resume')) == 2
    err = capsys.readouterr().err
    assert str(run / 'last.pt') in err and 'resume' in err and 'Traceback' not in err

@pytest.mark.parametrize('kind', ['missing', 'empty'])
def test_bad_data_folder_fails_clearly(tmp_path, capsys, kind):
    data = tmp_path / 'nodata'
    if kind == 'empty': data.mkdir()
    assert train_cli(cli_args(data, tmp_path / 'run')) == 2
    err = capsys.readouterr().err
    assert str(data) in err and err.startswith('structflow train: error:')
    assert not (tmp_path / 'run' / 'last.pt').exists()

def test_ckpt_every_zero_fails_clearly(synth_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as e: train_cli(cli_args(synth_data, tmp_path / 'run', '--ckpt-every', '0'))  # refused when the flags are read
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'structflow train: error: argument --ckpt-every: must be > 0' in err and 'Traceback' not in err
    with pytest.raises(ValueError, match='ckpt_every must be at least 1'): get_train_config('tiny', ckpt_every=0)  # and where a config is made

def test_missing_vgg_weights_advise_the_cli_flags(synth_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'empty-hub'))  # no cached ImageNet weights
    args = [a for a in cli_args(synth_data, tmp_path / 'run') if a != '--allow-random-vgg']
    assert train_cli(args) == 2
    err = capsys.readouterr().err
    assert '--vgg-weights' in err and '--allow-random-vgg' in err and "weights='random'" not in err and 'Traceback' not in err

def test_crafted_checkpoint_is_refused_by_every_loader(tmp_path, capsys):
    "A .pt file whose unpickling would run a command: resume, load_model, eval and generate all refuse it, and nothing runs."
    from structflow.evaluate import eval_cli
    marker = tmp_path / 'ran'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    run = tmp_path / 'run'; run.mkdir()
    torch.save({'format': 'structflow-train', 'x': Evil()}, run / 'last.pt')
    torch.save({'format': 'structflow-model', 'x': Evil()}, tmp_path / 'evil.pt')
    with pytest.raises(ValueError, match='refused'): read_checkpoint(tmp_path / 'evil.pt')
    with pytest.raises(ValueError, match='refused'): load_model(tmp_path / 'evil.pt')
    with pytest.raises(ValueError, match='refused'): load_model(run)
    assert train_cli(cli_args(tmp_path / 'nodata', run, '--resume')) == 2
    assert eval_cli(['--checkpoint', str(tmp_path / 'evil.pt'), '--data', str(tmp_path / 'nodata')]) != 0
    err = capsys.readouterr().err
    assert 'refused' in err and 'Traceback' not in err
    r = subprocess.run([sys.executable, '-m', 'structflow.cli', 'generate', '--checkpoint', str(tmp_path / 'evil.pt'), '--source', 'x.png',
                        '--source-pose', 'p.json', '--target-pose', 'p.json', '--out', str(tmp_path / 'o.png')], env=ENV, capture_output=True, text=True)
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    assert not marker.exists()  # no loader ran the command

# -- 6. loading the results ------------------------------------------------------------------------------------------------

def test_load_model(straight, synth_data):
    from structflow.pair_dataset import PairDataset
    from torch.utils.data import default_collate
    Gm, meta_m = load_model(straight / 'model.pt')
    Gl, meta_l = load_model(straight / 'last.pt')
    assert (meta_m['format'], meta_l['format']) == ('structflow-model', 'structflow-train')
    assert meta_l['step'] == TOTAL and meta_m['meta']['step'] == TOTAL
    assert not Gm.training and Gm.cfg.size == SIZE
    sm, sl = Gm.state_dict(), Gl.state_dict()
    assert all(torch.equal(sm[k], sl[k]) for k in sm)  # model.pt holds the generator of last.pt
    assert load_model(straight)[1]['path'].endswith('model.pt')  # a run folder means its model.pt
    batch = default_collate([PairDataset(synth_data, 'test', size=SIZE)[i] for i in range(2)])
    with torch.no_grad(): out = Gm(batch)
    assert out['image'].shape == (2, 3, *SIZE) and torch.isfinite(out['image']).all()
    load_model(straight / 'model.pt', expect=get_config('tiny', size=SIZE))  # matches: no error
    with pytest.raises(ValueError, match=r'model\.pt.*size.*64.*32.*\(checkpoint\) vs.*128.*64.*\(expected\)'):
        load_model(straight / 'model.pt', expect=get_config('tiny'))
    with pytest.raises(ValueError, match=r'last\.pt.*parts'):
        load_model(straight / 'last.pt', expect=get_config('tiny', size=SIZE, parts='whole'))

def test_recipe_paper_from_the_command_line(synth_data, tmp_path):
    "`structflow train --recipe paper` trains the paper's generator: no addition of ours in the run, its model file or the class it loads as."
    out = tmp_path / 'paper'
    rc, o, err = finish(start(cli_args(synth_data, out, '--recipe', 'paper')))
    assert rc == 0, err[-3000:]
    cfg = json.loads((out / 'config.json').read_text())
    assert cfg['train']['recipe'] == 'paper' and not any(cfg['model'][k] for k in ('background', 'bg_rgb', 'flow_prior', 'warp_rgb'))
    G, meta = load_model(out)
    assert type(G) is Generator and G.cfg.additions == [] and meta['train_config']['recipe'] == 'paper'
    assert not any(k.startswith('decoder.to_rgb') and v.shape[0] != 3 for k, v in G.state_dict().items())  # no gate channel
    r = subprocess.run([sys.executable, '-m', 'structflow.cli', 'train', *cli_args(synth_data, out, '--recipe', 'ours'), '--resume'],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2 and '--recipe ours (the run has paper)' in r.stderr, r.stderr[-2000:]  # a resume cannot change the recipe

def test_tensorboard_logs_losses_and_sample_grids(synth_data, tmp_path):
    "With the [tb] extra installed, a run writes TensorBoard events: every logged loss and the sample grids as images."
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / 'run'
    train(config(synth_data, steps1=2, steps2=2, sample_every=2, log_every=1), out, quiet=True)
    ev = EventAccumulator(str(out / 'tb'), size_guidance={'images': 0, 'scalars': 0}); ev.Reload()
    tags = ev.Tags()
    assert {'stage1/sam', 'stage2/l1', 'stage2/total'} <= set(tags['scalars']) and 'samples' in tags['images']
    imgs = ev.Images('samples')
    assert {2, 4} <= {i.step for i in imgs}  # at each sample step (and the final one)
    from PIL import Image
    last = Image.open(sorted((out / 'samples').glob('*.png'))[-1])
    assert (imgs[-1].width, imgs[-1].height) == last.size  # the grid of samples/, as an image

def test_exported_model_loads_back_to_the_same_outputs(straight, synth_data, tmp_path, cli):
    "`structflow export`: model.safetensors + config.json, loaded back by load_model and eval, with the same outputs."
    from structflow.pair_dataset import PairDataset
    from torch.utils.data import default_collate
    rc, out, err = cli('export', '--checkpoint', straight, '--out', tmp_path / 'hub')
    assert rc == 0 and 'model.safetensors' in out, err
    assert sorted(p.name for p in (tmp_path / 'hub').iterdir()) == ['config.json', 'model.safetensors']
    (G0, _), (G1, m1) = load_model(straight), load_model(tmp_path / 'hub')
    b = default_collate([PairDataset(synth_data, 'test', size=SIZE)[i] for i in range(2)])
    with torch.no_grad(): assert torch.equal(G0(b)['image'], G1(b)['image'])
    assert m1['format'] == 'structflow-model'
