"""The executed widget notebook renders in JupyterLab: headless Chromium screenshot (slow; run with --runslow).

Starts `jupyter lab` on a copy of nbs/12_widgets.ipynb (trusted in a private data dir, since JupyterLab renders
widget outputs only for trusted notebooks), loads it in headless Chromium twice (DOM dump, then screenshot),
and checks that the notebook and its pictures rendered. Set STRUCTFLOW_SCREENSHOT=path.png to keep the screenshot."""
import os, re, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / 'nbs' / '12_widgets.ipynb'
CHROMIUM = Path('/usr/bin/chromium')
WINDOW = (1280, 16000)  # tall enough for the whole notebook: every cell is laid out at once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _chromium(args, profile, timeout=240):
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', f'--user-data-dir={profile}', '--hide-scrollbars',
             '--virtual-time-budget=200000', f'--window-size={WINDOW[0]},{WINDOW[1]}']
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, timeout=timeout)


@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server (no token) on a trusted copy of the executed notebook; yields its URL to the notebook."
    if not CHROMIUM.exists(): pytest.skip(f'{CHROMIUM} not installed')
    if shutil.which('jupyter-lab') is None: pytest.skip('jupyter lab not installed')
    if not NB.exists(): pytest.skip(f'{NB} missing')
    d = {k: tmp_path / k for k in ('nb', 'data', 'config', 'runtime', 'workspaces', 'settings')}
    for p in d.values(): p.mkdir()
    shutil.copy(NB, d['nb'] / NB.name)
    for ext, name, text in [('apputils-extension', 'notification', '{"fetchNews": "false", "checkForUpdates": false}'),
                            ('notebook-extension', 'tracker', '{"windowingMode": "none"}')]:  # no news pop-up; render all cells
        (d['settings'] / '@jupyterlab' / ext).mkdir(parents=True, exist_ok=True)
        (d['settings'] / '@jupyterlab' / ext / f'{name}.jupyterlab-settings').write_text(text)
    env = {**os.environ, 'JUPYTER_DATA_DIR': str(d['data']), 'JUPYTER_CONFIG_DIR': str(d['config']),
           'JUPYTER_RUNTIME_DIR': str(d['runtime'])}
    subprocess.run([sys.executable, '-m', 'jupyter', 'trust', str(d['nb'] / NB.name)], env=env, check=True, capture_output=True)
    port = _free_port()
    log = open(tmp_path / 'lab.log', 'wb')
    proc = subprocess.Popen(['jupyter-lab', '--no-browser', '--allow-root', f'--port={port}', '--ServerApp.ip=127.0.0.1',
                             "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={d['nb']}",
                             f"--LabApp.workspaces_dir={d['workspaces']}", f"--LabApp.user_settings_dir={d['settings']}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status', timeout=2); break
            except OSError:
                if proc.poll() is not None: pytest.fail(f'jupyter lab exited: {(tmp_path / "lab.log").read_text()[-2000:]}')
                time.sleep(0.5)
        else: pytest.fail('jupyter lab did not start in 60 s')
        yield f'http://127.0.0.1:{port}/lab/tree/{NB.name}'
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait()  # the server's own session (kernels it started)
        log.close()


@pytest.mark.slow
def test_notebook_renders_in_jupyterlab(lab, tmp_path):
    from PIL import Image
    dom = _chromium(['--dump-dom', lab], tmp_path / 'profile-dom').stdout.decode('utf8', 'replace')
    assert 'Looking inside a trained model' in dom, 'the notebook did not render (title missing)'
    assert 'Error displaying widget' not in dom
    static = dom.count('<img src="data:image/png;base64,')
    live = len(re.findall(r'<img[^>]*widget-image', dom))
    print(f'static figures: {static}, live widget pictures: {live}, "Loading widget..." shown: {"Loading widget" in dom}')
    assert static >= 4, f'only {static} static figures rendered'

    shot = tmp_path / 'shot.png'
    r = _chromium([f'--screenshot={shot}', lab], tmp_path / 'profile-shot')
    assert shot.exists(), r.stderr.decode()[-2000:]
    assert shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert shot.stat().st_size > 100_000, 'screenshot suspiciously small (blank page?)'
    im = Image.open(shot).convert('RGB')
    assert im.size == WINDOW
    a = np.asarray(im).astype(np.int16)
    assert a.std() > 20, 'screenshot is (nearly) blank'
    sat = (a.max(-1) - a.min(-1)) > 120  # strongly coloured pixels: flow pictures, poses, relation maps
    assert sat.mean() > 0.002, f'too few coloured pixels ({sat.mean():.4f}): figures not rendered?'
    if os.environ.get('STRUCTFLOW_SCREENSHOT'): shutil.copy(shot, os.environ['STRUCTFLOW_SCREENSHOT'])
