"""What the course promises its readers (issue: a course an instructor can teach from): every flow picture carries the
colour-wheel key."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _code():
    "(where, source) of every module and every notebook code cell."
    for p in sorted((ROOT / 'structflow').glob('*.py')):
        if not p.name.startswith('_'): yield p.name, p.read_text()
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            if c['cell_type'] == 'code': yield f'{nb.name} cell {i}', ''.join(c['source'])

def test_every_flow_picture_has_its_key():
    "A flow drawn with show_flow gets the key (key=False only for the wheel itself); one made with flow_to_color gets paste_flow_key."
    bad = []
    for where, src in _code():
        if where.startswith(('core.py', '00_core.ipynb')): continue  # where the helpers are defined and tested
        for line in src.splitlines():
            code = line.split('#')[0]
            if 'flow_to_color(' in code and 'paste_flow_key(flow_to_color(' not in code and 'def ' not in code: bad.append(f'{where}: {line.strip()[:90]}')
            if re.search(r'show_flow\(.*key=False', code) and 'flow_wheel()' not in code: bad.append(f'{where}: {line.strip()[:90]}')
    assert not bad, f'flow pictures without the colour-wheel key: {bad}'

CORE = ['01_pose', '04_warp', '04b_sampling_correctness', '05_flow', '05b_skeleton_prior', '06_hdcb', '07_pnb', '08_generator',
        '09_losses', '09b_objective', '10_stages', '13_ablation']

def test_core_lessons_have_exercises():
    "Each core lesson: an Exercises section with >= 3 questions and revealable answers, a coding stub, its check, and a solution the tests run."
    bad = []
    for name in CORE:
        cells = json.loads((ROOT / 'nbs' / f'{name}.ipynb').read_text())['cells']
        src = [''.join(c['source']) for c in cells]
        at = [i for i, s in enumerate(src) if cells[i]['cell_type'] == 'markdown' and s.startswith('## Exercises')]
        if not at: bad.append(f'{name}: no Exercises section'); continue
        sec = src[at[0]:]
        if sum(s.count('<details><summary>Answer</summary>') for s in sec) < 3: bad.append(f'{name}: fewer than 3 answered questions')
        if 'glossary.ipynb' not in ''.join(sec): bad.append(f'{name}: no link to the glossary')
        stubs = [s for s in sec if 'raise NotImplementedError  # your code here' in s]
        sols = [c for c in cells[at[0]:] if c['cell_type'] == 'code' and c['metadata'].get('jupyter', {}).get('source_hidden')
                and "== 'correct'" not in ''.join(c['source']) and "'correct')" in ''.join(c['source'])]
        if not stubs: bad.append(f'{name}: no coding stub')
        if not sols: bad.append(f'{name}: no collapsed solution that runs its check')
    assert not bad, bad

def test_every_notebook_is_in_a_track():
    "nbs/tracks.json lists every notebook in the self-study track, the engineering appendices or the reference; the lecture is 90 minutes of lessons."
    tr = json.loads((ROOT / 'nbs' / 'tracks.json').read_text())
    names = {p.stem for p in (ROOT / 'nbs').glob('*.ipynb')} - {'index'}
    listed = tr['self_study'] + tr['engineering'] + tr['reference']
    assert sorted(listed) == sorted(set(listed)), 'a notebook listed twice'
    assert set(listed) == names, {'not listed': sorted(names - set(listed)), 'listed but absent': sorted(set(listed) - names)}
    assert {n for n, _, _ in tr['lecture']} <= set(tr['self_study'])
    assert sum(m for _, m, _ in tr['lecture']) == 90
    assert set(CORE) <= set(tr['self_study'])
    assert all(n in tr['notebooks'] for n in tr['self_study'] + tr['engineering'])
    ran = [tr['measured'][n]['minutes'] for n, _, _ in tr['lecture'] if n in tr.get('measured', {})]
    assert sum(ran) <= 90, f'the lecture track takes {sum(ran)} minutes to run'

def test_no_code_cell_over_100_lines():
    long = [f'{nb.name} cell {i}: {n} lines' for nb in sorted((ROOT / 'nbs').glob('*.ipynb'))
            for i, c in enumerate(json.loads(nb.read_text())['cells']) if c['cell_type'] == 'code' and (n := len(''.join(c['source']).splitlines())) > 100]
    assert not long, long
