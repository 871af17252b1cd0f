"""Write the small Market-1501 keypoint sample that ships with structflow (structflow/samples/market/).

    python tools/market_sample.py ../shared/data/market     # the full annotation files (see the README it writes)

A fixed random choice (seed 0) of 1,500 training rows and 1,500 of the 12,000 standard test pairs with the test rows
they name, copied line for line (original order, original text), so that notebooks 01 and 03 show real poses on a
fresh clone. No images: Market-1501 itself comes from its maintainers.
"""
import sys
from pathlib import Path
import numpy as np

OUT = Path(__file__).resolve().parents[1] / 'structflow' / 'samples' / 'market'
N_TRAIN, N_PAIRS = 1500, 1500

def main(src):
    src = Path(src); OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    train = (src / 'market-annotation-train.csv').read_text().splitlines()
    keep = sorted(rng.choice(np.arange(1, len(train)), N_TRAIN, replace=False))
    (OUT / 'market-annotation-train.csv').write_text('\n'.join([train[0]] + [train[i] for i in keep]) + '\n')
    pairs = (src / 'market-pairs-test.csv').read_text().splitlines()
    pick = sorted(rng.choice(np.arange(1, len(pairs)), N_PAIRS, replace=False))
    chosen = [pairs[i] for i in pick]
    names = {n for p in chosen for n in p.split(',')}
    test = (src / 'market-annotation-test.csv').read_text().splitlines()
    rows = [r for r in test[1:] if r.split(':')[0] in names]
    (OUT / 'market-annotation-test.csv').write_text('\n'.join([test[0]] + rows) + '\n')
    (OUT / 'market-pairs-test.csv').write_text('\n'.join([pairs[0]] + chosen) + '\n')
    (OUT / 'README.md').write_text(f"""# A sample of the Market-1501 pose annotations (keypoints only)

Real keypoint annotations of the Market-1501 pose-transfer benchmark, in the format Def-GAN, PATN, GFLA and the
paper use (`name:keypoints_y:keypoints_x`, 18 OpenPose joints, integer pixels of the 128x64 crops, -1 = missing).
No images: Market-1501 itself must be obtained from its maintainers.

Provenance: the public GitHub repository `myeongjun2/pose-guided-human-image-generation` (a fork of
`AliaksandrSiarohin/pose-gan`), folder `data/`, commit 706e14a8: its `market-annotation-train.csv`
({len(train) - 1:,} rows), `market-annotation-test.csv` ({len(test) - 1:,} rows) and `market-pairs-test.csv`
({len(pairs) - 1:,} pairs, the standard test pairs).

This sample (`python tools/market_sample.py FOLDER_OF_THOSE_FILES`, seed 0), rows copied unchanged in their order:

| file | rows | what |
|---|---|---|
| market-annotation-train.csv | {N_TRAIN:,} | a random choice of training rows |
| market-pairs-test.csv | {N_PAIRS:,} | a random choice of the standard test pairs |
| market-annotation-test.csv | {len(rows):,} | the test rows those pairs name |
""")
    print(f'wrote {OUT}: {N_TRAIN} train rows, {N_PAIRS} pairs, {len(rows)} test rows')

if __name__ == '__main__': main(*sys.argv[1:])
