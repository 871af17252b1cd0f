"""Time notebooks as a student runs them (not under test: full sizes), cell by cell, and record the minutes in nbs/tracks.json.

    python tools/time_notebooks.py 01_pose 04_warp ...     # executes copies; the notebooks themselves are not changed

Each notebook's run time and its slow cells (>= 20 s) are written into the `measured` table of nbs/tracks.json, with the
machine and the load it ran under, so the index can state the minutes of each track."""
import json, os, platform, sys, time, datetime
from pathlib import Path
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TRACKS = ROOT / 'nbs' / 'tracks.json'

def _seconds(c):
    t = c.get('metadata', {}).get('execution', {})
    a, b = t.get('iopub.execute_input') or t.get('shell.execute_request'), t.get('shell.execute_reply')
    if not a or not b: return 0.0
    f = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
    return (f(b) - f(a)).total_seconds()

def time_notebook(name: str, timeout: int = 1800) -> dict:
    nb = nbformat.read(ROOT / 'nbs' / f'{name}.ipynb', as_version=4)
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name='python3', record_timing=True, resources={'metadata': {'path': str(ROOT / 'nbs')}}).execute(env=env)
    total = time.perf_counter() - t0
    slow = [[i, round(_seconds(c), 1), c.source.splitlines()[0][:70] if c.source else ''] for i, c in enumerate(nb.cells)
            if c.cell_type == 'code' and _seconds(c) >= 20]
    return {'minutes': round(total / 60, 1), 'slow_cells': slow, 'load_before': round(load0, 1), 'load_after': round(os.getloadavg()[0], 1)}

if __name__ == '__main__':
    data = json.loads(TRACKS.read_text())
    for name in sys.argv[1:]:
        try: r = time_notebook(name)
        except Exception as e: print(f'{name}: failed: {type(e).__name__}: {str(e)[:300]}', flush=True); continue
        data.setdefault('measured', {})[name] = r
        data['machine'] = f"{platform.machine()}, {os.cpu_count()} cores, torch threads: default"
        TRACKS.write_text(json.dumps(data, indent=1) + '\n')
        print(f"{name}: {r['minutes']} min, slow cells {r['slow_cells']}", flush=True)
