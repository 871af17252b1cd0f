"""Real datasets and real photos, as people bring them: DeepFashion in both keypoint frames and Market-1501 from their
official download layouts (`structflow data prepare`), then `data check`, a few training steps, `eval` and `generate`;
a landscape photo with a COCO annotation file; and the bad inputs of that path.

The downloads are mocks with the real naming patterns, built from synthetic people so that the right answer is known:
a person rendered at 256x176, widened to 256x256 as the In-shop photos are, must come back exactly after the crop.
"""
import json, shutil
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from structflow.core import to_uint8
from structflow.data import read_annotations, read_pairs
from structflow.data_check import check_split
from structflow.pair_dataset import PairDataset
from structflow.pose import JOINTS, present, EXAMPLE_POSE
from structflow.pose_files import COCO17
from structflow.prepare import mock_inshop, write_annotations
from structflow.generate import person_box, to_box

TRAIN = ['--preset', 'tiny', '--steps1', '1', '--steps2', '1', '--batch-size', '2', '--workers', '0', '--allow-random-vgg', '--quiet']

pytestmark = pytest.mark.usefixtures('one_thread')

@pytest.fixture(scope='module')
def synth256(tmp_path_factory):
    from structflow.synthetic_dataset import make_dataset
    root = tmp_path_factory.mktemp('s256') / 'synth'
    make_dataset(root, size=(256, 176), identities=3, poses_per_identity=2, seed=0, test_fraction=0.34, progress=False)
    return root

@pytest.mark.parametrize('frame, images', [('full', (256, 256)), ('cropped', (256, 176))])
def test_deepfashion_end_to_end(synth256, tmp_path, cli, frame, images):
    src, names = mock_inshop(synth256, tmp_path / 'inshop', frame=frame)
    assert (src / 'img' / 'WOMEN' / 'Tees_Tanks' / 'id_00000000' / '01_1_front.jpg').is_file()
    data, run = tmp_path / 'df', tmp_path / 'run'
    rc, out, err = cli('data', 'prepare', 'deepfashion', src, '--out', data)
    assert rc == 0, err
    rc, out, _ = cli('data', 'check', data)
    assert rc == 0 and f"frame: {images[0]}x{images[1]} images" in out and 'warning' not in out
    # what the model is given: the rendered 256x176 people, keypoints exactly (the 40-pixel shift undone)
    ds, ref = PairDataset(data, 'train', size=(256, 176), crop='auto'), PairDataset(synth256, 'train', truth=False)
    for synth_name, inshop in names['train'].items():
        if synth_name in ref.names:
            i, j = ds.names.index(inshop), ref.names.index(synth_name)
            assert np.array_equal(ds.kps[i], ref.kps[j])
            assert (ds._image(i)[0].float() - ref._image(j)[0].float()).abs().mean() < 2
    rc, out, err = cli('train', '--data', data, '--out', run, '--size', '256x176', *TRAIN)
    assert rc == 0, err
    fr = json.loads((run / 'config.json').read_text())['data']['frame']
    assert fr == {'images': list(images), 'crop': [0, 40, 256, 176] if frame == 'full' else None, 'size': [256, 176]}
    rc, out, err = cli('eval', '--checkpoint', run, '--data', data, '--max-pairs', '2', '--save-images', '--quiet',
                       '--lpips-weights', 'cache', '--fid-weights', 'cache')
    assert rc == 0, err
    ev = run / 'eval-test'
    assert np.asarray(Image.open(ev / 'samples.png')).shape[1] == 4 * 176
    saved = sorted(p.name for p in (ev / 'images').iterdir())
    assert len(saved) == 2 and all('_2_' in n and n.endswith('_vis.png') for n in saved)
    assert json.loads((ev / 'metrics.json').read_text())['frame']['crop'] == fr['crop']
    ann = next(data.glob('fashion-annotation-test.csv')); row = next(iter(read_annotations(ann)))
    rc, out, err = cli('generate', '--checkpoint', run, '--source', data / 'test' / row, '--source-pose', f'{ann}:{row}',
                       '--target-pose', f'{ann}:{row}', '--target-size', f'{images[0]}x{images[1]}', '--out', tmp_path / 'g.png', '--layout', 'strip')
    assert rc == 0, err
    assert np.asarray(Image.open(tmp_path / 'g.png')).shape == (256, 4 * 176, 3)

def neck_error(root, split):
    "Largest distance (px) between the red mark painted on each mock person's neck and the neck keypoint, in the prepared images."
    kps, worst = read_annotations(root / f'fashion-annotation-{split}.csv'), 0.0
    for n, k in kps.items():
        a = np.asarray(Image.open(root / split / n).convert('RGB')).astype(int)
        ys, xs = np.nonzero((a[..., 0] > 180) & (a[..., 1] < 80) & (a[..., 2] < 80))
        assert len(xs), f'{n}: the mark was lost'
        worst = max(worst, float(np.hypot(xs.mean() - k[1, 0], ys.mean() - k[1, 1])))
    return worst

@pytest.mark.parametrize('images, frame, spelling, size', [
    ('img', 'full', 'fasion', (256, 256)), ('img', 'full', 'fashion', (256, 256)),
    ('img', 'cropped', 'fashion-resize', (256, 176)), ('img', 'cropped', 'fasion-resize', (256, 176)),
    ('img_highres', 'cropped', 'fasion', (256, 176)), ('img_highres', 'cropped', 'fashion-resize', (256, 176)),
    ('img_highres', 'cropped', 'fasion-resize', (256, 176))])
def test_deepfashion_as_people_download_it(synth256, tmp_path, cli, images, frame, spelling, size):
    "Each image folder with each annotation spelling and keypoint frame: the prepared images are in the keypoints' frame, and a joint lands on its mark."
    src, _ = mock_inshop(synth256, tmp_path / 'inshop', frame=frame, images=images, spelling=spelling, marker=True)
    rc, out, err = cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df')
    assert rc == 0, err
    for split in ('train', 'test'):
        assert {Image.open(f).size[::-1] for f in (tmp_path / 'df' / split).iterdir()} == {size}
        assert neck_error(tmp_path / 'df', split) < 2
    rc, out, _ = cli('data', 'check', tmp_path / 'df')
    assert rc == 0 and f"frame: {size[0]}x{size[1]} images" in out and 'warning' not in out

@pytest.mark.parametrize('images, shape', [('img_highres', None), ('img', (300, 200))])
def test_a_frame_that_does_not_fit_the_images_is_one_line(synth256, tmp_path, cli, images, shape):
    "High-resolution photos with keypoints of the 256x256 frame, or photos of an unknown size: refused, naming the photo and the annotation line; never a silent crop."
    src, _ = mock_inshop(synth256, tmp_path / 'inshop', frame='full', images=images)
    if shape:
        f = next((src / 'img').rglob('*.jpg')); Image.open(f).convert('RGB').resize(shape[::-1]).save(f)
    rc, _, err = cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df')
    assert rc == 2 and err.count('\n') == 1 and '.jpg: image is' in err and 'line' in err and 'fasion-annotation-' in err, err
    assert ('the central window only' in err) if images == 'img_highres' else ('300x200, which does not fit' in err)

def test_both_image_folders_pick_with_images_flag(synth256, tmp_path, cli):
    src, _ = mock_inshop(synth256, tmp_path / 'inshop', frame='cropped', images='img_highres', spelling='fasion', marker=True)
    rc, _, err = cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df', '--images', 'img')
    assert rc == 2 and "no img folder (the download holds img_highres)" in err
    assert cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df', '--images', 'img_highres')[0] == 0
    assert neck_error(tmp_path / 'df', 'train') < 2

def test_mixed_deepfashion_frames_warn(synth256, tmp_path, cli):
    full, _ = mock_inshop(synth256, tmp_path / 'full', frame='full')
    patn, _ = mock_inshop(synth256, tmp_path / 'patn', frame='cropped')
    assert cli('data', 'prepare', 'deepfashion', full, '--out', tmp_path / 'df')[0] == 0
    for split in ('train', 'test'):  # PATN's keypoints beside the uncropped images
        shutil.copyfile(patn / f'fashion-resize-annotation-{split}.csv', tmp_path / 'df' / f'fashion-annotation-{split}.csv')
    rc, out, _ = cli('data', 'check', tmp_path / 'df')
    assert rc == 0 and 'warning:' in out and '40 pixels left' in out and 'fashion-annotation-train.csv' in out

def test_prepare_refuses_to_lose_an_image(synth256, tmp_path, cli):
    src, names = mock_inshop(synth256, tmp_path / 'inshop')
    next((src / 'img').rglob('*.jpg')).unlink()
    rc, _, err = cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df')
    assert rc == 2 and 'not found in the download' in err and 'fasion-annotation-' in err and 'line' in err

def test_market_end_to_end(synth_data, tmp_path, cli):
    "A Market-1501 download (bounding_box_train/test, query) with Market file names, from 64x32 synthetic people."
    src = tmp_path / 'Market-1501-v15.09.15'
    for split, folders in (('train', ['bounding_box_train']), ('test', ['bounding_box_test', 'query'])):
        kps = read_annotations(synth_data / f'synthetic-annotation-{split}.csv')
        pairs = read_pairs(synth_data / f'synthetic-pairs-{split}.csv', kps)
        rename = {n: f'{i // 3 + 2:04d}_c{i % 6 + 1}s1_{i * 151:06d}_0{i % 3}.jpg' for i, n in enumerate(sorted(kps))}
        for i, n in enumerate(sorted(kps)):
            d = src / folders[i % len(folders)]; d.mkdir(parents=True, exist_ok=True)
            Image.open(synth_data / split / n).convert('RGB').save(d / rename[n], quality=100)
        write_annotations(tmp_path / f'market-annotation-{split}.csv', {rename[n]: k for n, k in kps.items()})
        (tmp_path / f'market-pairs-{split}.csv').write_text('from,to\n' + ''.join(f'{rename[a]},{rename[b]}\n' for a, b in pairs))
    data, run = tmp_path / 'market', tmp_path / 'run'
    rc, _, err = cli('data', 'prepare', 'market', src, '--annotations', tmp_path, '--out', data)
    assert rc == 0, err
    rc, out, _ = cli('data', 'check', data)
    assert rc == 0 and 'frame: 64x32 images' in out
    assert cli('train', '--data', data, '--out', run, '--size', '64x32', *TRAIN)[0] == 0
    assert cli('eval', '--checkpoint', run, '--data', data, '--max-pairs', '2', '--quiet')[0] == 0
    ann = data / 'market-annotation-test.csv'; a, b = read_pairs(data / 'market-pairs-test.csv')[0]
    rc, _, err = cli('generate', '--checkpoint', run, '--source', data / 'test' / a, '--source-pose', f'{ann}:{a}',
                     '--target-pose', f'{ann}:{b}', '--target-size', '64x32', '--out', tmp_path / 'g.png')
    assert rc == 0, err

# -- your own photo --------------------------------------------------------------------------------------------------------

def coco_of(k):
    "COCO's 51 numbers of an 18-joint pose (unlabelled joints: 0, 0, 0)."
    c = np.zeros((17, 3))
    for i, n in enumerate(COCO17):
        j = JOINTS.index(n)
        if present(k)[j]: c[i] = (*k[j], 2)
    return c.ravel().tolist()

@pytest.fixture
def photo(synth_data, tmp_path):
    "A 425x640 landscape photo with a synthetic person (rendered at 64x32) enlarged 5x right of centre, and its COCO file."
    item = PairDataset(synth_data, 'test')[0]
    person = Image.fromarray(to_uint8(item['source'])).resize((160, 320), Image.BILINEAR)
    img = Image.new('RGB', (640, 425), (70, 90, 60)); img.paste(person, (420, 50)); img.save(tmp_path / 'photo.jpg')
    big = item['source_kps'].numpy() * (159 / 31, 319 / 63) + (420, 50)
    (tmp_path / 'photo-coco.json').write_text(json.dumps({'images': [{'id': 3, 'file_name': 'photo.jpg', 'height': 425, 'width': 640}],
        'annotations': [{'id': 1, 'image_id': 3, 'keypoints': coco_of(big / 3 + 10)}, {'id': 2, 'image_id': 3, 'keypoints': coco_of(big)}]}))
    (tmp_path / 'target.json').write_text(json.dumps(item['target_kps'].tolist()))  # from a 64x32 image, no size in the file
    return item, big

def gen(tmp_path, *extra, source_pose=None):
    return ['generate', '--checkpoint', 'synthetic-128x64', '--source', tmp_path / 'photo.jpg',
            '--source-pose', source_pose or tmp_path / 'photo-coco.json', '--target-pose', tmp_path / 'target.json',
            '--out', tmp_path / 'out.png', *extra]

def test_landscape_photo_is_framed_on_the_person(photo, tmp_path, cli):
    item, big = photo
    rc, out, err = cli(*gen(tmp_path, '--target-size', '64x32', '--explain', '--layout', 'strip'))
    assert rc == 0, err
    strip = np.asarray(Image.open(tmp_path / 'out.png'))
    assert strip.shape == (128, 4 * 64, 3) and (tmp_path / 'out-explain.png').is_file()
    k = to_box(big, person_box(big, 64 / 128), (128, 64))  # the larger person was chosen and centred
    mid = (k[present(k)].min(0) + k[present(k)].max(0)) / 2
    assert abs(mid[0] - 31.5) < 1 and abs(mid[1] - 63.5) < 1
    ph = np.asarray(Image.open(tmp_path / 'photo.jpg')).astype(float)
    diffs = [np.abs(strip[int(round(y)), int(round(x)), :].astype(float) - ph[int(round(Y)), int(round(X))]).mean()
             for (x, y), (X, Y) in zip(k[present(k)], big[present(big)])]
    assert np.median(diffs) < 25, diffs  # each joint of the framed source shows the photo's pixel at that joint
    tk = to_box(item['target_kps'].numpy(), person_box(item['target_kps'].numpy(), 0.5), (128, 64))
    pose_tile = strip[:, 64:128]
    for x, y in tk[present(tk)].round().astype(int):  # every target joint is drawn where it should be, on the person
        assert pose_tile[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max() > 0

def test_the_result_alone_by_default_and_a_folder_of_photos(photo, tmp_path, cli):
    rc, _, err = cli(*gen(tmp_path, '--target-size', '64x32'))
    assert rc == 0, err
    alone = np.asarray(Image.open(tmp_path / 'out.png'))
    assert alone.shape == (128, 64, 3)  # the generated image, nothing else
    # a folder of photos, their poses in one COCO file, results in a folder, one picture per photo, named like it
    photos = tmp_path / 'photos'; photos.mkdir()
    for n in ('a.jpg', 'b.jpg'): shutil.copyfile(tmp_path / 'photo.jpg', photos / n)
    coco = json.loads((tmp_path / 'photo-coco.json').read_text())
    coco['images'] = [dict(coco['images'][0], id=i, file_name=n) for i, n in ((3, 'a.jpg'), (4, 'b.jpg'))]
    coco['annotations'] = [dict(coco['annotations'][1], id=10 + i, image_id=i) for i in (3, 4)]
    (tmp_path / 'all.json').write_text(json.dumps(coco))
    args = ['generate', '--checkpoint', 'synthetic-128x64', '--source', photos, '--source-pose', tmp_path / 'all.json',
            '--target-pose', tmp_path / 'target.json', '--target-size', '64x32', '--out', tmp_path / 'results']
    rc, out, err = cli(*args)
    assert rc == 0 and 'wrote 2 pictures into' in out, err
    a, b = (np.asarray(Image.open(tmp_path / 'results' / f'{n}.png')) for n in 'ab')
    assert a.shape == (128, 64, 3) and np.array_equal(a, b) and np.array_equal(a, alone)  # the same photo and pose: the same result as alone
    # a photo without a pose is named before any work, and nothing is written
    shutil.copyfile(tmp_path / 'photo.jpg', photos / 'c.jpg')
    rc, _, err = cli(*args[:-1], tmp_path / 'results2')
    assert rc == 2 and 'c.jpg' in err and err.count('\n') == 1 and not any((tmp_path / 'results2').glob('*.png'))
    (photos / 'c.jpg').unlink()
    rc, _, err = cli(*[x for x in args if x not in ('--target-size', '64x32')])  # no one source frame to assume for the target poses
    assert rc == 2 and '--target-size' in err

def test_target_pose_frame_from_another_image(photo, tmp_path, cli):
    Image.new('RGB', (32, 64)).save(tmp_path / 'other.png')
    assert cli(*gen(tmp_path, '--target-image', tmp_path / 'other.png'))[0] == 0
    rc, _, err = cli(*gen(tmp_path))  # no frame given: read in the photo's frame, and said so
    assert rc == 0 and 'read in the 425x640 frame of the source image (assumed' in err

def test_bad_photo_inputs(photo, tmp_path, cli):
    item, big = photo
    # a source pose measured on another image size
    (tmp_path / 'wrong.json').write_text(json.dumps({'size': [128, 64], 'keypoints': EXAMPLE_POSE.tolist()}))
    rc, _, err = cli(*gen(tmp_path, source_pose=tmp_path / 'wrong.json'))
    assert rc == 2 and 'wrong.json' in err and 'belongs to a 128x64 image' in err and 'give the pose of this image' in err
    # a target pose outside the frame it is said to come from
    rc, _, err = cli(*gen(tmp_path, '--target-size', '20x10'))
    assert rc == 2 and 'target.json' in err and 'outside' in err and '--target-size' in err
    # a person id that the COCO file does not hold
    rc, _, err = cli(*gen(tmp_path, source_pose=f"{tmp_path / 'photo-coco.json'}:99"))
    assert rc == 2 and 'photo-coco.json' in err and "no annotation id or image named '99'" in err
    # an OpenPose file of an image where nobody was found
    (tmp_path / 'nobody_keypoints.json').write_text(json.dumps({'version': 1.3, 'people': []}))
    rc, _, err = cli(*gen(tmp_path, source_pose=tmp_path / 'nobody_keypoints.json'))
    assert rc == 2 and 'nobody_keypoints.json' in err and 'no person' in err and 'give the pose by hand' in err

def test_prepare_refuses_an_image_too_small_for_the_crop(synth256, tmp_path, cli):
    src, _ = mock_inshop(synth256, tmp_path / 'inshop', frame='cropped')
    bad = next((src / 'img').rglob('*.jpg')); Image.new('RGB', (200, 200)).save(bad)
    rc, _, err = cli('data', 'prepare', 'deepfashion', src, '--out', tmp_path / 'df')
    assert rc == 2 and str(bad) in err and '200x200' in err and 'neither 256x176, 256x256' in err and err.count('\n') == 1

def test_a_pose_too_small_to_frame_the_person(photo, tmp_path, cli):
    (tmp_path / 'nose.json').write_text(json.dumps({'size': [425, 640], 'keypoints': [[300, 100]] + [[-1, -1]] * 17}))
    rc, _, err = cli(*gen(tmp_path, source_pose=tmp_path / 'nose.json'))
    assert rc == 2 and 'nose.json' in err and 'too few to find the person' in err

def test_poses_estimated_from_the_photos(photo, tmp_path, cli, monkeypatch, capsys):
    "Without pose files, `generate` estimates them with torchvision's Keypoint R-CNN: without its weights, one line saying how to get them or to give a pose file; with a weights file (random here: the plumbing only, its joints mean nothing), a picture and a note."
    monkeypatch.setenv('STRUCTFLOW_OFFLINE', '1'); monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))  # no download, an empty hub cache
    args = ['generate', '--checkpoint', 'synthetic-128x64', '--source', tmp_path / 'photo.jpg', '--target-image', tmp_path / 'photo.jpg',
            '--out', tmp_path / 'estimated.png']
    rc, out, err = cli(*args)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert 'keypointrcnn_resnet50_fpn_coco-fc266e95.pth' in err and '--pose-weights' in err and '--source-pose' in err, err
    assert not (tmp_path / 'estimated.png').exists()
    with pytest.raises(SystemExit): cli(*args, '--pose-weights', 'random')  # never meaningless poses from the command line
    capsys.readouterr()  # argparse's usage text, left by the refusal
    torch.save({'conv.weight': torch.zeros(1)}, tmp_path / 'other.pth')  # a readable file of other weights
    rc, out, err = cli(*args, '--pose-weights', tmp_path / 'other.pth')
    assert rc == 2 and len(err.strip().splitlines()) == 1 and 'other.pth: not Keypoint R-CNN' in err, err
    from torchvision.models.detection import keypointrcnn_resnet50_fpn
    torch.manual_seed(0)
    torch.save(keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), tmp_path / 'kprcnn.pth')
    rc, out, err = cli(*args, '--pose-weights', tmp_path / 'kprcnn.pth')  # random weights find nobody they are sure of
    assert rc == 2 and 'photo.jpg: the pose estimator found no person (detection score >= 0.9; the best detection scored' in err, err
    rc, out, err = cli(*args, '--pose-weights', tmp_path / 'kprcnn.pth', '--person-score', '0')
    assert rc == 0, err
    assert 'are not the published file' in err and f"estimated the pose of {tmp_path / 'photo.jpg'}, {tmp_path / 'photo.jpg'}" in err, err
    assert np.asarray(Image.open(tmp_path / 'estimated.png')).shape == (128, 64, 3)
