"""Parity of structflow.metrics with the reference implementations (scikit-image, lpips, pytorch-fid, PATN's mask)."""
import json
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structflow.metrics import ssim, psnr, pose_mask, MASK_LIMBS, to_pixels
from structflow.lpips_fid import LPIPS, FID, frechet_distance, feature_statistics

skm = pytest.importorskip('skimage.metrics')
skdata = pytest.importorskip('skimage.data')


def _to_t(u8):
    "uint8 (H,W,3) -> tensor (1,3,H,W) in [-1,1], exactly representable pixel values."
    return torch.from_numpy(u8).permute(2, 0, 1)[None].double() / 127.5 - 1


def _u8(t):
    return to_pixels(t).to(torch.uint8)[0].permute(1, 2, 0).numpy()


def _real_pairs():
    "Crops of scikit-image's sample photographs (Market and DeepFashion sizes) and distorted copies."
    rng = np.random.default_rng(0)
    out = []
    for name, (y, x) in [('astronaut', (40, 180)), ('chelsea', (20, 100)), ('coffee', (50, 200))]:
        img = getattr(skdata, name)()
        for h, w in [(128, 64), (256, 176)]:
            a = img[y:y + h, x:x + w]
            noisy = np.clip(a.astype(int) + rng.normal(0, 12, a.shape).round().astype(int), 0, 255).astype(np.uint8)
            shifted = np.roll(a, (2, -3), axis=(0, 1))
            dark = (a // 3).astype(np.uint8)  # a generated image with a small range (data_range='pred' differs)
            out += [(a, noisy), (a, shifted), (a, dark)]
    return out


def _random_pairs():
    rng = np.random.default_rng(1)
    return [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            for h, w in [(128, 64), (64, 48), (33, 21)]]


@pytest.mark.parametrize('pairs', [_real_pairs, _random_pairs])
def test_ssim_psnr_match_skimage(pairs):
    worst = 0.
    for tgt, pred in pairs():
        ours = ssim(_to_t(pred), _to_t(tgt)).item()
        ref = skm.structural_similarity(tgt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        channel_axis=-1, data_range=255)
        assert abs(ours - ref) < 1e-4, (ours, ref)
        ours_pred = ssim(_to_t(pred), _to_t(tgt), data_range='pred').item()  # PATN / GFLA's script
        ref_pred = skm.structural_similarity(tgt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                             channel_axis=-1, data_range=int(pred.max()) - int(pred.min()))
        assert abs(ours_pred - ref_pred) < 1e-4, (ours_pred, ref_pred)
        p_ours, p_ref = psnr(_to_t(pred), _to_t(tgt)).item(), skm.peak_signal_noise_ratio(tgt, pred)
        assert abs(p_ours - p_ref) < 1e-4, (p_ours, p_ref)
        worst = max(worst, abs(ours - ref), abs(ours_pred - ref_pred))
    print(f'largest SSIM difference to skimage: {worst:.2e}')


def test_ssim_batched_and_quantised():
    "A batch equals the images one by one; float inputs are quantised like saved PNGs."
    torch.manual_seed(0)
    a, b = torch.rand(4, 3, 64, 32) * 2 - 1, torch.rand(4, 3, 64, 32) * 2 - 1
    batch = ssim(a, b)
    for i in range(4):
        ref = skm.structural_similarity(_u8(b[i:i + 1]), _u8(a[i:i + 1]), gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, channel_axis=-1, data_range=255)
        assert abs(batch[i].item() - ref) < 1e-4
    exact = (a.double() + 1) * 127.5
    floor = to_pixels(a, 'floor')
    near = (exact.ceil() - exact < 1e-4) & (exact.ceil() != exact)  # within the tolerance below a level: counted as that level
    assert torch.equal(floor[~near], exact.floor()[~near]) and near.float().mean() < 1e-3  # truncation, as GFLA's tensor2im
    u = torch.arange(256).float().view(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert torch.equal(to_pixels(u / 127.5 - 1, 'floor'), u.double())  # an 8-bit file's levels come back exactly (63 of 256 would drop by one)


def _random_alexnet_features(seed=0):
    import torchvision
    torch.manual_seed(seed)
    return torchvision.models.alexnet().features.state_dict()


def _package_lpips(sd):
    "The lpips package's own model with the same backbone weights copied in."
    import lpips
    ref = lpips.LPIPS(net='alex', version='0.1', pnet_rand=True, verbose=False)
    for name, p in ref.net.state_dict().items():  # 'slice2.3.weight' <- features '3.weight'
        p.copy_(sd[name.split('.', 1)[1]])
    return ref.eval()


def test_lpips_equals_package(tmp_path):
    sd = _random_alexnet_features()
    path = tmp_path / 'alexnet-features.pth'
    torch.save(sd, path)
    ours = LPIPS(weights=path, quantize=None)
    assert ours.available, ours.reason
    for k, v in ours.model.net.state_dict().items():  # the file was loaded
        assert torch.equal(v, sd[k.split('.', 1)[1]])
    ref = _package_lpips(sd)
    torch.manual_seed(1)
    a = torch.rand(3, 3, 128, 64) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    with torch.no_grad(): expected = ref(a, b).flatten()
    got = ours(a, b)
    print('LPIPS ours vs package (random AlexNet):', got.tolist(), expected.tolist())
    assert torch.allclose(got, expected, atol=1e-6)
    # with quantisation our value equals the package's on the quantised images
    q = LPIPS(weights=path)
    qa, qb = (to_pixels(v).float() / 127.5 - 1 for v in (a, b))
    with torch.no_grad(): assert torch.allclose(q(a, b), ref(qa, qb).flatten(), atol=1e-6)


def test_lpips_loads_full_torchvision_state_dict(tmp_path):
    "A whole torchvision alexnet state dict (features. prefix, classifier) also loads."
    sd = _random_alexnet_features(2)
    full = {f'features.{k}': v for k, v in sd.items()}
    full['classifier.1.weight'] = torch.zeros(4, 4)  # ignored
    torch.save(full, tmp_path / 'alexnet-owt-7be5be79.pth')
    lp = LPIPS(weights=tmp_path / 'alexnet-owt-7be5be79.pth')
    assert lp.available and torch.equal(lp.model.net.slice1[0].weight, sd['0.weight'])
    # the same file found in a torch hub cache folder
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
    (tmp_path / 'alexnet-owt-7be5be79.pth').rename(tmp_path / 'hub' / 'checkpoints' / 'alexnet-owt-7be5be79.pth')
    cached = LPIPS(hub_dir=tmp_path / 'hub')
    assert cached.available and cached.status['weights'] == 'imagenet'


def test_lpips_bad_file_is_unavailable(tmp_path):
    path = tmp_path / 'wrong.pth'
    torch.save({'0.weight': torch.zeros(3, 3)}, path)  # not AlexNet
    lp = LPIPS(weights=path)
    assert not lp.available and 'missing' in lp.reason
    empty = LPIPS(hub_dir=tmp_path / 'empty-hub')
    assert not empty.available and 'alexnet-owt-7be5be79.pth' in empty.reason


def _random_fid_inception_state_dict():
    "pytorch-fid's FID Inception structure with random weights (built as its fid_inception_v3 does)."
    pi = pytest.importorskip('pytorch_fid.inception')
    torch.manual_seed(0)
    net = pi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = pi.FIDInceptionA(192, 32), pi.FIDInceptionA(256, 64), pi.FIDInceptionA(288, 64)
    net.Mixed_6b, net.Mixed_6c = pi.FIDInceptionC(768, 128), pi.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = pi.FIDInceptionC(768, 160), pi.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = pi.FIDInceptionE_1(1280), pi.FIDInceptionE_2(2048)
    return net.state_dict()


def test_fid_loads_local_weights(tmp_path):
    sd = _random_fid_inception_state_dict()
    path = tmp_path / 'pt_inception.pth'
    torch.save(sd, path)
    fid = FID(weights=path)
    assert fid.available, fid.reason
    assert torch.equal(fid.model.blocks[0][0].conv.weight, sd['Conv2d_1a_3x3.conv.weight'])
    torch.manual_seed(0)
    imgs = torch.rand(6, 3, 64, 32) * 2 - 1
    f = fid.features(imgs, batch_size=4)
    assert f.shape == (6, 2048) and np.isfinite(f).all()
    assert np.allclose(fid.features(imgs[:2]), f[:2], atol=1e-5)  # batching does not matter
    assert not FID(hub_dir=tmp_path / 'empty').available


@pytest.mark.slow
def test_fid_end_to_end(tmp_path):
    "FID of a set with itself is 0 and with another set positive (a 2048x2048 sqrtm: ~25 s per call on one core)."
    torch.save(_random_fid_inception_state_dict(), tmp_path / 'pt_inception.pth')
    fid = FID(weights=tmp_path / 'pt_inception.pth')
    torch.manual_seed(0)
    f = fid.features(torch.rand(6, 3, 64, 32) * 2 - 1)
    assert abs(fid(f, f)) < 1e-6
    assert fid(f, fid.features(torch.rand(6, 3, 64, 32) * 2 - 1)) > 0


def test_frechet_distance_matches_pytorch_fid():
    fs = pytest.importorskip('pytorch_fid.fid_score')
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 8)), rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8)) + 1
    (m1, s1), (m2, s2) = feature_statistics(a), feature_statistics(b)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ref = fs.calculate_frechet_distance(m1, s1, m2, s2)
    assert abs(frechet_distance(m1, s1, m2, s2) - ref) < 1e-6 * max(1, abs(ref))


def _patn_mask(kps_xy, size, radius=4):
    "PATN's produce_ma_mask (tool/getMetrics_market.py) with today's scikit-image names."
    from skimage.draw import disk, polygon
    from skimage.morphology import dilation, erosion
    kp = np.asarray(kps_xy, np.float64)[:, ::-1]  # (y, x) as PATN loads them
    mask = np.zeros(size, dtype=bool)
    for f, t in MASK_LIMBS:
        if (kp[f] == -1).any() or (kp[t] == -1).any(): continue
        n = kp[f] - kp[t]
        if not n.any(): continue
        n = radius * np.array([-n[1], n[0]]) / np.linalg.norm(n)
        v = np.array([kp[f] + n, kp[f] - n, kp[t] - n, kp[t] + n])
        yy, xx = polygon(v[:, 0], v[:, 1], shape=size)
        mask[yy, xx] = True
    for j in kp:
        if (j == -1).any(): continue
        yy, xx = disk((j[0], j[1]), radius, shape=size)
        mask[yy, xx] = True
    sq = np.ones((5, 5), bool)
    return erosion(dilation(mask, sq), sq)


def _random_poses(n, size, seed=0):
    rng = np.random.default_rng(seed)
    H, W = size
    for _ in range(n):
        k = np.stack([rng.integers(0, W, 18), rng.integers(0, H, 18)], 1).astype(np.float32)
        k[rng.random(18) < 0.2] = -1
        yield k


def test_pose_mask_matches_patn_random():
    for k in _random_poses(200, (128, 64)):
        assert np.array_equal(pose_mask(k, (128, 64)).numpy().astype(bool), _patn_mask(k, (128, 64)))


def test_pose_mask_matches_patn_market(market_dir):
    rows = (market_dir / 'market-annotation-test.csv').read_text().splitlines()[1:]
    n, differ = 0, 0
    for row in rows[:500]:
        name, ys, xs = row.split(':')
        k = np.stack([json.loads(xs), json.loads(ys)], 1).astype(np.float32)
        n += 1
        differ += not np.array_equal(pose_mask(k, (128, 64)).numpy().astype(bool), _patn_mask(k, (128, 64)))
    assert differ == 0, f'{differ} of {n} masks differ from PATN'


def test_eval_protocol_gfla_reproduces_gflas_script(tmp_path, cli):
    "`structflow eval --protocol gfla --save-images`, then GFLA's metric script (scikit-image SSIM, data_range of each generated image) on the saved images and the target files: the same SSIM to 1e-4."
    from PIL import Image
    from structflow.synthetic_dataset import make_dataset
    data = tmp_path / 'data'
    make_dataset(data, size=(128, 64), identities=4, poses_per_identity=2, seed=3, test_fraction=0.5, progress=False)
    rc, out, err = cli('eval', '--checkpoint', 'synthetic-128x64', '--data', data, '--split', 'test', '--protocol', 'gfla',
                       '--save-images', '--grid', 0, '--workers', 0, '--fid-cache', 'none', '--out', tmp_path / 'ev', '--quiet')
    assert rc == 0, err
    res = json.loads((tmp_path / 'ev' / 'metrics.json').read_text())
    assert res['protocol'] == 'gfla'
    scores = []
    for row in res['pairs']:  # GFLA's script/metrics.py: ssim_score over (reference, generated) 8-bit images
        name = f"{row['from'].rsplit('.', 1)[0]}_2_{row['to'].rsplit('.', 1)[0]}_vis.png"
        gen = np.asarray(Image.open(tmp_path / 'ev' / 'images' / name).convert('RGB'))
        ref = np.asarray(Image.open(data / 'test' / row['to']).convert('RGB'))
        scores.append(skm.structural_similarity(ref, gen, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                                channel_axis=-1, data_range=gen.max() - gen.min()))
    assert len(scores) == res['n_pairs'] >= 2
    assert abs(float(np.mean(scores)) - res['overall']['model']['ssim']) < 1e-4
