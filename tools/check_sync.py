"""Fail when `nbdev_export` would change structflow/ (notebooks and library out of sync), or `nbdev_clean` the notebooks.

Exports into the working tree, compares with the snapshot taken before, and on a difference
prints it and exits 1 (the exported files are left in place so `git diff` shows the drift)."""
import filecmp, shutil, subprocess, sys, tempfile, difflib
from pathlib import Path

lib = Path('structflow')

def snapshot(dst):
    shutil.copytree(lib, dst/'structflow', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))

def files(root): return {p.relative_to(root) for p in root.rglob('*.py') if '__pycache__' not in p.parts}

with tempfile.TemporaryDirectory() as d:
    d = Path(d); snapshot(d)
    subprocess.run(['nbdev_export'], check=True)
    before, after = files(d/'structflow'), files(lib)
    problems = [f'{p}: created by nbdev_export (not committed?)' for p in sorted(after - before)]
    problems += [f'{p}: not produced by any notebook (edit the notebook, not the library)' for p in sorted(before - after)]
    for p in sorted(before & after):
        if not filecmp.cmp(d/'structflow'/p, lib/p, shallow=False):
            diff = difflib.unified_diff((d/'structflow'/p).read_text().splitlines(), (lib/p).read_text().splitlines(),
                                        f'committed/{p}', f'exported/{p}', lineterm='', n=1)
            problems.append(f'{p}: differs from what the notebooks export:\n' + '\n'.join(list(diff)[:40]))
nbs = {p: p.read_bytes() for p in sorted(Path('nbs').glob('*.ipynb'))}
subprocess.run(['nbdev_clean'], check=True)  # execution counts and metadata left by running a notebook in place
problems += [f'{p}: not clean (run `nbdev_clean` or `make clean`, then commit the notebook)' for p, b in nbs.items() if p.read_bytes() != b]
if problems:
    print('Notebooks and library are out of sync. Edit notebooks, run `make export`, commit both:\n')
    print('\n'.join(problems)); sys.exit(1)
print('notebooks and library in sync, notebooks clean')
