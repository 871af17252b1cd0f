"""The table of the paper's equations in nbs/index.ipynb points at code that exists and at notebooks that picture and test each equation."""
import importlib, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def equation_rows():
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    text = next(''.join(c['source']) for c in nb['cells'] if "## The paper's equations in the code" in ''.join(c['source']))
    rows = [l.split(' | ') for l in text.splitlines() if re.match(r'\| \d+ \|', l)]
    return {int(r[0].strip('| ')): (re.findall(r'`([\w.]+)`', r[2]), re.findall(r'\(nbs/([\w.]+\.ipynb)\)', r[3])) for r in rows}

def mentions(src: str, n: int) -> bool:
    "Does the text speak of equation n ('eq. 3', 'eqs. 2, 3, 5', 'eqs. 1-3')?"
    for m in re.finditer(r'eqs?\.\s*(\d+(?:\s*(?:,|-|–|and)\s*\d+)*)', src, re.I):
        for part in re.split(r'\s*(?:,|and)\s*', m.group(1)):
            ends = [int(x) for x in re.split(r'\s*[-–]\s*', part)]
            if ends[0] <= n <= ends[-1]: return True
    return False

def test_every_equation_has_a_home():
    rows = equation_rows()
    assert sorted(rows) == list(range(1, 15))
    for n, (names, notebooks) in rows.items():
        assert names and notebooks, n
        for name in names:
            mod, attr = name.rsplit('.', 1)
            assert hasattr(importlib.import_module(f'structflow.{mod}'), attr), f'eq. {n}: structflow.{name} does not exist'
        for nbname in notebooks:
            cells = [''.join(c['source']) for c in json.loads((ROOT / 'nbs' / nbname).read_text())['cells']]
            assert any(mentions(c, n) for c in cells), f'eq. {n}: {nbname} never names it'
            code = [c for c in cells if not c.lstrip().startswith('#| export')]
            assert any(re.search(r'\bplt\.|\bshow_\w+\(|imshow', c) for c in code), f'{nbname}: no picture'
            assert any(re.search(r'\btest_(eq|close|fail|ne)\(|\bassert\b', c) for c in code), f'{nbname}: no test'

def test_mentions():
    assert mentions('eqs. 2, 3, 5', 3) and mentions('eqs. 1-3', 2) and mentions('Eq. 10 pictured', 10)
    assert not mentions('eq. 10', 1) and not mentions('eqs. 2, 3', 5)

def test_index_lists_every_notebook():
    "The README's course section (the output of nbs/index.ipynb's tracks cell, built from nbs/tracks.json) links every notebook."
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    cells = nb['cells']
    at = next(i for i, c in enumerate(cells) if ''.join(c['source']).startswith('## The course: two tracks'))
    text = ''.join(cells[at]['source']) + ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for o in cells[at + 1].get('outputs', []))
    listed = set(re.findall(r'\[(\w+)\]\(nbs/\1\.ipynb\)', text))
    present = {p.stem for p in (ROOT / 'nbs').glob('*.ipynb') if p.stem != 'index'}
    assert listed == present, (present - listed, listed - present)

def test_departures_are_named():
    "The table's last column names, for every addition of ours, the code that departs from the paper's equation, and that code exists."
    from structflow.generator import ADDITIONS
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    text = next(''.join(c['source']) for c in nb['cells'] if "## The paper's equations in the code" in ''.join(c['source']))
    rows = [l.split(' | ') for l in text.splitlines() if re.match(r'\| \d+ \|', l)]
    assert all(len(r) == 5 for r in rows), 'every equation row has a departure column'
    departs = ' '.join(r[4] for r in rows)
    for name in re.findall(r'`([a-z]+\.[A-Za-z_]+)`', departs):
        mod, attr = name.rsplit('.', 1)
        assert hasattr(importlib.import_module(f'structflow.{mod}'), attr), f'structflow.{name} does not exist'
    for k in ADDITIONS: assert f'`{k}`' in departs, f'the addition {k} is not named where it departs from an equation'

def test_paper_generator_has_nothing_of_ours():
    "With our additions off: the paper's class, no prior, gate or background parameters, and its forward names none of them."
    import inspect, torch
    from structflow.generator import Generator, StructflowGenerator, make_generator, get_config, PAPER, make_inputs
    from structflow.pose import EXAMPLE_POSE
    G = make_generator(get_config('tiny', **PAPER))
    assert type(G) is Generator and type(G.flow).__name__ == 'PartFlowGenerator'
    assert G.decoder.to_rgb.out_channels == 3 and G.decoder.to_rgb.in_channels == G.decoder.up[-1][0].out_channels
    src = inspect.getsource(Generator.forward)
    for word in ('background', 'bg_rgb', 'prior', 'warp_rgb', 'gate', 'pixels', 'self.cfg.'): assert word not in src, word  # no branch on a switch of ours
    assert len(src.splitlines()) <= 12  # one screen
    # ours with every addition off computes the paper's output exactly, on the same (non-initial) weights
    torch.manual_seed(0)
    for p in G.parameters(): p.data.normal_(0, 0.05)
    O = StructflowGenerator(get_config('tiny', **PAPER)); O.load_state_dict(G.state_dict())
    tk = EXAMPLE_POSE.copy(); tk[[3, 4]] = [[10, 30], [14, 12]]
    b = make_inputs(torch.rand(3, 128, 64) * 2 - 1, EXAMPLE_POSE, tk)
    with torch.no_grad(): assert torch.equal(G.eval()(b)['image'], O.eval()(b)['image'])
