"""The library's layout rules (CONTRIBUTING.md, "Where a change goes"): a class is written once, no attribute of a
class is assigned from outside it by hand, no private name is imported from another module, and a lesson imports
nothing that a later notebook defines (apart from its own appendices and sections about a trained model)."""
import ast, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT / 'structflow').glob('*.py') if not p.name.startswith('_'))

def test_no_class_subclasses_itself():
    bad = [f'{p.name}:{i + 1}' for p in MODULES for i, l in enumerate(p.read_text().splitlines()) if re.match(r'class (\w+)\(\1\)', l)]
    assert not bad, f'classes continued by subclassing themselves (use fastcore @patch): {bad}'

def test_no_class_attribute_assigned_from_outside():
    bad = []
    for p in MODULES:
        tree = ast.parse(p.read_text())
        classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        for n in tree.body:
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in classes:
                        bad.append(f'{p.name}:{n.lineno} {t.value.id}.{t.attr}')
    assert not bad, f'class attributes assigned from outside the class (define them in it, or @patch): {bad}'

def test_no_private_name_crosses_modules():
    bad = []
    for p in MODULES:
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.ImportFrom) and (n.module or '').split('.')[-1] != p.stem and (n.level or (n.module or '').startswith('structflow')):
                bad += [f'{p.name}:{n.lineno} {n.module}.{a.name}' for a in n.names if a.name.startswith('_') and not a.name.startswith('__')]
    assert not bad, f'private names imported from another module: {bad}'

def test_hidden_import_cells_import_no_private_name():
    bad = []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] != 'code' or src.lstrip().startswith('#| export'): continue
            for m in re.finditer(r'from structflow\.(\w+) import ([^\n#]+)', src):
                names = [x.strip(' ()') for x in m.group(2).split(',')]
                bad += [f'{nb.name}: structflow.{m.group(1)}.{x}' for x in names if x.startswith('_')]
    assert not bad, f'lessons importing private names: {bad}'

def test_every_exporting_notebook_owns_its_module():
    "Each notebook with an export cell names its own module (default_exp), and no cell exports into another notebook's module."
    owners, bad = {}, []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        src = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        exp = [m.group(1) for s in src for m in [re.match(r'#\| default_exp (\w+)', s)] if m]
        if any(s.startswith('#| export') for s in src) and len(exp) != 1: bad.append(f'{nb.name}: exports without one default_exp')
        bad += [f'{nb.name}: exports into {m.group(1)}' for s in src for m in [re.match(r'#\| export (\w+)', s)] if m]
        for e in exp:
            if e in owners: bad.append(f'{nb.name} and {owners[e]} both make structflow.{e}')
            owners[e] = nb.name
    assert not bad, bad
    # and the module is named like its notebook (NN[a-z]_NAME.ipynb -> NAME), apart from the lessons named for their idea
    named_otherwise = {'00_core', '01_pose', '02_synthetic', '03_data', '03c_prepare', '04_warp', '05_flow', '06_hdcb', '07_pnb', '08_generator',
                       '09_losses', '09c_checkpoint', '11_metrics', '11c_generate', '15_demo', '16_cli'}
    off = [f'{n} -> {m}' for m, n in owners.items() if n[:-6] not in named_otherwise and n[:-6].split('_', 1)[1] != m]
    assert not off, off

def test_train_flags_are_generated_from_the_config():
    "One table of training flags (train.flag_table): every flag sets a TrainConfig field of the same name, its help is the field's comment, its default the preset's."
    from dataclasses import fields
    from fastcore.docments import docments
    from structflow.train import TrainConfig, train_parser, asked_from_args, CLI_FLAGS, flag_table
    names, docs = {f.name for f in fields(TrainConfig)}, docments(TrainConfig)
    table = flag_table()
    assert set(table) <= names
    acts = {a.dest: a for a in train_parser()._actions}
    for k, (flag, kw) in table.items():
        assert acts[k].option_strings == [flag] and acts[k].default is None and CLI_FLAGS[k] == flag
        if 'help' not in kw and docs.get(k): assert acts[k].help.startswith(docs[k])
    a = train_parser().parse_args(['--out', 'x', '--workers', '3', '--no-pnb', '--lr', '0.5'])
    assert asked_from_args(a) == {'num_workers': 3, 'pnb': False, 'lr': 0.5}

def _owners():
    owners = {}
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            m = re.match(r'#\| default_exp (\w+)', ''.join(c['source']))
            if c['cell_type'] == 'code' and m: owners[m.group(1)] = nb.stem
    return owners

def test_no_lesson_imports_a_later_notebook():
    """A notebook imports nothing that a later notebook defines (CONTRIBUTING.md, "Rules of the layout"), except
    (1) from its own appendices (the same number with a letter: 02_synthetic may use 02b_renderer), which it is read with,
    and (2) in a section about a trained model (its heading says so), which loads one with later notebooks' public helpers."""
    owners, bad = _owners(), []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        if nb.stem == 'index': continue
        m = re.match(r'\d+', nb.stem)
        if m is None: continue  # the glossary: a page of prose
        num, heading = m.group(0), ''
        for c in json.loads(nb.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'markdown':
                hs = re.findall(r'^(#+) (.+)$', src, re.M)
                if hs: heading = ' '.join(h for _, h in hs)
                continue
            if c['cell_type'] != 'code': continue
            mods = re.findall(r'(?:from|import) structflow\.(\w+)', src)
            mods += [m.strip() for g in re.findall(r'from structflow import ([\w, ]+)', src) for m in g.split(',')]
            for mod in mods:
                o = owners.get(mod)
                if o is None or o <= nb.stem: continue
                own_appendix = re.match(rf'{num}[a-z]_', o) is not None
                looks_at_trained = 'trained' in heading.lower() and not src.lstrip().startswith('#| export')
                if not (own_appendix or looks_at_trained): bad.append(f'{nb.name}: structflow.{mod} ({o}, later) under "{heading[:60]}"')
    assert not bad, bad
