"""structflow.data from outside the notebook: real Market CSVs, bad files, the `data check` command."""
import io, re, shutil, subprocess, contextlib
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from structflow.data import DataError, read_annotations, read_pairs, HEADER
from structflow.data_check import data_cli
from structflow.pair_dataset import find_split, PairDataset
from structflow.pose import EXAMPLE_POSE

YS = [int(v) for v in EXAMPLE_POSE[:, 1]]
XS = [int(v) for v in EXAMPLE_POSE[:, 0]]

def row(name, ys=YS, xs=XS): return f"{name}: {ys}: {xs}\n"

def png_bytes(w=64, h=128, color=(128, 128, 128)):
    buf = io.BytesIO(); Image.new('RGB', (w, h), color).save(buf, 'PNG'); return buf.getvalue()

def count(text, key):
    "Integer after 'key: ' in each line of a report, in order."
    return [int(m) for m in re.findall(rf'^{re.escape(key)}: (\d+)', text, flags=re.M)]

def check(folder, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out): rc = data_cli(['check', str(folder), *args])
    return rc, out.getvalue()

def small_dataset(root, n=3, prefix='market'):
    "A valid dataset: n images 128x64 with the example pose, pairs i -> i+1."
    root = Path(root); (root / 'train').mkdir(parents=True)
    names = [f'{i:04d}_c1.jpg' for i in range(n)]
    rng = np.random.default_rng(0)
    for nm in names: Image.fromarray(rng.integers(0, 256, (128, 64, 3), dtype=np.uint8)).save(root / 'train' / nm, 'PNG')
    (root / f'{prefix}-annotation-train.csv').write_text(HEADER + '\n' + ''.join(row(nm) for nm in names))
    (root / f'{prefix}-pairs-train.csv').write_text('from,to\n' + ''.join(f'{names[i]},{names[(i + 1) % n]}\n' for i in range(n)))
    return root, names

# ---------------------------------------------------------------- real Market CSVs

def _count_rows(path):
    return sum(1 for line in Path(path).read_text().splitlines()[1:] if line.strip())

def test_market_files_read(market_dir):
    train = read_annotations(market_dir / 'market-annotation-train.csv', size=(128, 64))
    test = read_annotations(market_dir / 'market-annotation-test.csv', size=(128, 64))
    assert len(train) == 12936 == _count_rows(market_dir / 'market-annotation-train.csv')
    assert len(test) == 19732 == _count_rows(market_dir / 'market-annotation-test.csv')
    pairs = read_pairs(market_dir / 'market-pairs-test.csv', names=test)
    assert len(pairs) == 12000
    assert all(k.shape == (18, 2) and k.dtype == np.float32 for k in train.values())
    np.testing.assert_array_equal(train['0224_c6s1_055726_02.jpg'], EXAMPLE_POSE)  # (x, y) of the first row
    assert sum((k == -1).all() for k in train.values()) == 419
    assert sum((k == -1).all() for k in test.values()) == 3445

def test_market_check_command(market_dir, tmp_path):
    "`structflow data check` on the real CSVs plus a placeholder 64x128 PNG for every name."
    for f in ('market-annotation-train.csv', 'market-annotation-test.csv', 'market-pairs-test.csv'):
        shutil.copy(market_dir / f, tmp_path / f)
    blob = png_bytes()
    for split in ('train', 'test'):
        (tmp_path / split).mkdir()
        for name in read_annotations(tmp_path / f'market-annotation-{split}.csv'):
            (tmp_path / split / name).write_bytes(blob)  # the same encoded bytes everywhere: fast
    r = subprocess.run(['structflow', 'data', 'check', str(tmp_path)], capture_output=True, text=True, timeout=600)
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    assert count(out, 'annotation rows') == [12936, 19732]
    assert count(out, 'images') == [12936, 19732]
    assert count(out, 'pairs') == [0, 12000]
    assert count(out, 'rows with no joint') == [419, 3445]
    assert count(out, 'pairs skipped on purpose') == [0, 0]
    missing = [sum(int((k == -1).all(1).sum()) for k in read_annotations(tmp_path / f'market-annotation-{s}.csv').values())
               for s in ('train', 'test')]
    assert count(out, 'missing joints') == missing
    assert count(out, 'problems') == [0, 0]
    assert 'image sizes: 128x64: 12936' in out and 'image sizes: 128x64: 19732' in out
    assert 'pairs file: absent' in out and 'no pairs file (market-pairs-train.csv)' in out  # reported, not a problem
    assert '== 0 problems' in out

# ---------------------------------------------------------------- bad annotation and pairs files

BAD_ANNOTATIONS = {  # id -> (file content, line, what the message says)
    'missing header': (row('a.jpg'), 1, 'expected the header'),
    'comma separator': (HEADER + '\n' + f"a.jpg,{YS},{XS}\n", 2, "expected 3 fields separated by ':'"),
    'extra column': (HEADER + '\n' + row('a.jpg') + f"b.jpg: {YS}: {XS}: [1]\n", 3, 'expected 3 fields'),
    '17 joints': (HEADER + '\n' + row('a.jpg') + row('b.jpg', YS[:17], XS[:17]), 3, 'keypoints_y has 17 values, expected 18'),
    '19 x values': (HEADER + '\n' + row('a.jpg', YS, XS + [3]), 2, 'keypoints_x has 19 values'),
    'not a list': (HEADER + '\n' + 'a.jpg: 1 2 3: [1]\n', 2, 'keypoints_y must be a list'),
    'non-numeric': (HEADER + '\n' + row('a.jpg', YS, str(XS).replace('53', 'five', 1)), 2, "('five') is not a number"),
    'nan': (HEADER + '\n' + row('a.jpg', str(YS).replace('60', 'nan', 1)), 2, 'is not finite'),
    'one coordinate missing': (HEADER + '\n' + row('a.jpg', YS[:4] + [-1] + YS[5:]), 2, 'joint 4 (r_wrist) has one coordinate missing'),
    'negative': (HEADER + '\n' + row('a.jpg', YS, [-3] + XS[1:]), 2, 'is negative'),
    'duplicate name': (HEADER + '\n' + row('a.jpg') + row('b.jpg') + row('a.jpg'), 4, "duplicate name 'a.jpg' (first on line 2)"),
    'empty name': (HEADER + '\n' + row(''), 2, 'empty image name'),
    'empty file': ('', 1, 'empty file'),
}

@pytest.mark.parametrize('case', list(BAD_ANNOTATIONS))
def test_bad_annotation_names_file_and_line(case, tmp_path):
    text, line, msg = BAD_ANNOTATIONS[case]
    f = tmp_path / 'x-annotation-train.csv'; f.write_text(text)
    with pytest.raises(DataError) as e: read_annotations(f)
    s = str(e.value)
    assert s.startswith(f'{f}, line {line}: '), s
    assert msg in s, s

def test_outside_image(tmp_path):
    f = tmp_path / 'a.csv'; f.write_text(HEADER + '\n' + row('a.jpg') + row('b.jpg', [130] + YS[1:]))
    assert len(read_annotations(f)) == 2  # size unknown: fine
    with pytest.raises(DataError, match=re.escape(f'{f}, line 3: joint 0 (nose) at x=39, y=130 is outside the 128x64 image')):
        read_annotations(f, size=(128, 64))

def test_all_missing_rows_are_kept(tmp_path):
    f = tmp_path / 'a.csv'; f.write_text(HEADER + '\n' + row('a.jpg') + row('b.jpg', [-1] * 18, [-1] * 18) + '\n\n')
    ann = read_annotations(f)
    assert list(ann) == ['a.jpg', 'b.jpg'] and (ann['b.jpg'] == -1).all()

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv: file not found'): read_annotations(tmp_path / 'nope.csv')
    with pytest.raises(FileNotFoundError, match='nope.csv: file not found'): read_pairs(tmp_path / 'nope.csv')

def test_bad_pairs(tmp_path):
    names = {'a.jpg': 0, 'b.jpg': 0}
    cases = {'from,to\na.jpg,b.jpg\na.jpg\n': (3, "expected 2 fields 'from,to'"),
             'from,to\na.jpg,b.jpg\nb.jpg,a.jpg,c.jpg\n': (3, 'expected 2 fields'),
             'from,to\na.jpg,b.jpg\nb.jpg,zz.jpg\n': (3, "to image 'zz.jpg' has no row in the annotations"),
             'a.jpg,b.jpg\n': (1, "expected the header 'from,to'"),
             'from,to\n,b.jpg\n': (2, 'empty image name')}
    for i, (text, (line, msg)) in enumerate(cases.items()):
        f = tmp_path / f'p{i}.csv'; f.write_text(text)
        with pytest.raises(DataError) as e: read_pairs(f, names)
        assert str(e.value).startswith(f'{f}, line {line}: ') and msg in str(e.value), str(e.value)

def test_find_split_layouts(tmp_path):
    (tmp_path / 'fasion-annotation-test.csv').write_text(HEADER + '\n')
    (tmp_path / 'fasion-dataset' / 'test').mkdir(parents=True)  # Def-GAN's layout
    assert find_split(tmp_path, 'test') == (tmp_path / 'fasion-annotation-test.csv', None, tmp_path / 'fasion-dataset' / 'test', None)
    (tmp_path / 'test').mkdir()  # GFLA's layout wins
    (tmp_path / 'fashion-pairs-test.csv').write_text('from,to\n')
    assert find_split(tmp_path, 'test')[1:3] == (tmp_path / 'fashion-pairs-test.csv', tmp_path / 'test')

# ---------------------------------------------------------------- PairDataset errors

def test_pair_dataset_errors(tmp_path):
    root, names = small_dataset(tmp_path / 'd')
    ds = PairDataset(root)
    assert len(ds) == 3
    # an image missing from the folder: the pairs file and line
    (root / 'train' / names[1]).unlink()
    with pytest.raises(DataError, match=re.escape(f"market-pairs-train.csv, line 2: to image '{names[1]}' not found")): PairDataset(root)
    # an unreadable image: the error names the image (every header is read at construction; a truncated body when served)
    (root / 'train' / names[1]).write_bytes(b'not an image')
    with pytest.raises(DataError, match=re.escape(f"{root / 'train' / names[1]}: cannot read image")): PairDataset(root)
    (root / 'train' / names[1]).write_bytes(png_bytes()[:-60])  # header intact, pixels cut short
    ds = PairDataset(root)
    with pytest.raises(DataError, match=re.escape(f"{root / 'train' / names[1]}: cannot read image")): ds[0]
    # an image of another size than the first one
    Image.new('RGB', (64, 100)).save(root / 'train' / names[1], 'PNG')
    with pytest.raises(DataError, match=re.escape(f"{root / 'train' / names[1]}: image is now 100x64, but was 128x64")): ds[0]
    # a pair naming an image without an annotation row
    (root / 'market-pairs-train.csv').write_text('from,to\n' + f'{names[0]},{names[2]}\n' + f'{names[0]},nobody.jpg\n')
    with pytest.raises(DataError, match=re.escape("market-pairs-train.csv, line 3: to image 'nobody.jpg' has no row in market-annotation-train.csv")):
        PairDataset(root)
    # a joint outside the images (known once the first image is read)
    (root / 'market-pairs-train.csv').write_text('from,to\n' + f'{names[0]},{names[2]}\n')
    (root / 'market-annotation-train.csv').write_text(HEADER + '\n' + row(names[0]) + row(names[1]) + row(names[2], YS, [70] + XS[1:]))
    with pytest.raises(DataError, match=re.escape('market-annotation-train.csv, line 4: joint 0 (nose) at x=70, y=8 is outside the 128x64 image')):
        PairDataset(root)
    # no pairs file
    (root / 'market-pairs-train.csv').unlink()
    with pytest.raises(FileNotFoundError, match='no pairs file'): PairDataset(root)

def test_empty_poses_are_skipped_and_counted(tmp_path):
    root, names = small_dataset(tmp_path / 'd')
    (root / 'market-annotation-train.csv').write_text(HEADER + '\n' + row(names[0]) + row(names[1], [-1] * 18, [-1] * 18) + row(names[2]))
    ds = PairDataset(root)
    assert len(ds) == 1 and ds.skipped == {'pairs whose source or target has no joint': 2} and ds.empty_rows == 1
    assert len(PairDataset(root, skip_empty=False)) == 3

def test_dataloader_workers(tmp_path):
    root, names = small_dataset(tmp_path / 'd', n=6)
    ds = PairDataset(root, size=(64, 32), augment='gfla')
    dl = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=True)
    batches = list(dl)
    assert sum(len(b['index']) for b in batches) == 6
    b = batches[0]
    assert b['source'].shape == (4, 3, 64, 32) and b['source_pose'].shape == (4, 18, 64, 32) and b['source_parts'].shape == (4, 3, 64, 32)
    assert isinstance(b['from'], list) and b['index'].dtype == torch.int64

# ---------------------------------------------------------------- `structflow data check` on a bad folder

def test_check_lists_every_problem(tmp_path):
    root, names = small_dataset(tmp_path / 'd', n=4)
    (root / 'market-annotation-train.csv').write_text(
        HEADER + '\n' + row(names[0]) + row(names[1], YS[:17], XS[:17]) + row(names[2], YS, [70] + XS[1:]) + row(names[3])
        + row('ghost.jpg') + row(names[0]))
    (root / 'market-pairs-train.csv').write_text(f'from,to\n{names[0]},{names[3]}\n{names[0]},nobody.jpg\n{names[3]},{names[0]}\n')
    (root / 'train' / names[3]).write_bytes(b'garbage')
    rc, out = check(root, '--split', 'train')
    assert rc == 1
    problems = [l for l in out.splitlines() if l.startswith('problem: ')]
    expected = [f'market-annotation-train.csv, line 3: keypoints_y has 17 values',
                f'market-annotation-train.csv, line 7: duplicate name {names[0]!r}',
                "market-pairs-train.csv, line 3: to image 'nobody.jpg' has no row",
                f'market-annotation-train.csv, line 4: joint 0 (nose) at x=70, y=8 is outside the 128x64 image',
                f"market-annotation-train.csv, line 6: image 'ghost.jpg' not found",
                f'{names[3]}: cannot read image']
    for e in expected: assert sum(e in p for p in problems) == 1, (e, out)
    assert len(problems) == len(expected), out
    assert count(out, 'problems') == [len(expected)]
    assert count(out, 'annotation rows') == [6] and count(out, 'pairs') == [2] and count(out, 'images') == [4]

def test_check_good_and_absent(tmp_path):
    root, _ = small_dataset(tmp_path / 'd')
    rc, out = check(root)
    assert rc == 0, out
    assert 'no annotation file for split' in out and 'note: ' in out  # the absent test split is a note with --split all
    rc, out = check(root, '--split', 'test')
    assert rc == 1 and "problem: " in out  # ... and a problem when asked for
    rc, out = check(tmp_path / 'empty_dir_that_is_missing')
    assert rc == 1

def test_worker_errors_name_the_file(tmp_path):
    root, names = small_dataset(tmp_path / 'd', n=4)
    (root / 'train' / names[2]).write_bytes(png_bytes()[:-60])  # readable header, truncated pixels: fails in the worker
    dl = torch.utils.data.DataLoader(PairDataset(root), batch_size=4, num_workers=2)
    with pytest.raises(Exception, match=re.escape(f"{root / 'train' / names[2]}: cannot read image")): list(dl)

def test_deepfashion_crop(tmp_path):
    "256x256 images cropped to the central 256x176 window: x - 40, joints outside become missing and are counted."
    root = tmp_path / 'df'; (root / 'train').mkdir(parents=True)
    pose = EXAMPLE_POSE * 2 + np.array([64, 0], np.float32)  # the example person in the middle of a 256x256 image
    edge = pose.copy(); edge[4] = (20, 120)  # a wrist in the left margin, outside the window
    img = np.zeros((256, 256, 3), np.uint8); img[:, 40:216] = 200  # the window is bright, the margins black
    for n in ('a.jpg', 'b.jpg'): Image.fromarray(img).save(root / 'train' / n, 'PNG')
    rows = ''.join(f"{n}: {k[:, 1].astype(int).tolist()}: {k[:, 0].astype(int).tolist()}\n" for n, k in (('a.jpg', pose), ('b.jpg', edge)))
    (root / 'fasion-annotation-train.csv').write_text(HEADER + '\n' + rows)
    (root / 'fasion-pairs-train.csv').write_text('from,to\na.jpg,b.jpg\n')
    ds = PairDataset(root, crop='deepfashion')
    it = ds[0]
    assert ds.size == (256, 176) and it['source'].shape == (3, 256, 176) and it['source_pose'].shape == (18, 256, 176)
    assert it['source'].min() > 0.5  # only the bright window is left
    np.testing.assert_array_equal(it['source_kps'].numpy(), pose - np.array([40, 0], np.float32))
    assert (it['target_kps'][4] == -1).all() and ds.cropped_joints == 1
    small = PairDataset(root, crop='deepfashion', size=(128, 88))[0]
    np.testing.assert_allclose(small['source_kps'].numpy(), (pose - np.array([40, 0])) * np.array([87 / 175, 127 / 255]), rtol=1e-6)
    with pytest.raises(ValueError, match='does not fit'): PairDataset(root, crop=(0, 100, 256, 176))
