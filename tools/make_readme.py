"""Build README.md from nbs/index.ipynb with nbconvert (quarto is not needed).

Markdown cells are copied; code cells are dropped unless they produce output, in which case
their text output is kept (their input never is). nbdev directives never reach the README."""
import nbformat
from nbconvert import MarkdownExporter
from pathlib import Path

nb = nbformat.read('nbs/index.ipynb', as_version=4)
cells = []
for c in nb.cells:
    if c.cell_type == 'code':
        if c.source.lstrip().startswith('#| hide') or not c.get('outputs'): continue
        c.source = ''
    cells.append(c)
nb.cells = cells
exp = MarkdownExporter(exclude_input=True)
body, _ = exp.from_notebook_node(nb)
note = '<!-- generated from nbs/index.ipynb by `make readme`; edit the notebook, not this file -->\n\n'
Path('README.md').write_text(note + body.strip() + '\n')
print('wrote README.md')
