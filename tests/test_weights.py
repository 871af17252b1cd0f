"""Pretrained weights with weights='auto': the cache first, a download with a progress bar when online, a clear error offline."""
import pytest
import torch
import structflow.pretrained_weights as L

URL = 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth'

def test_auto_downloads_with_progress_when_online(tmp_path, monkeypatch):
    got = {}
    def fake_download(url, model_dir, map_location, progress, check_hash):
        got.update(url=url, model_dir=model_dir, progress=progress); return {'w': torch.ones(1)}
    monkeypatch.delenv('STRUCTFLOW_OFFLINE', raising=False)
    monkeypatch.setattr(L, '_reachable', lambda host, timeout: host == 'download.pytorch.org')
    monkeypatch.setattr(L.torch.hub, 'load_state_dict_from_url', fake_download)
    sd, info = L.fetch_pretrained('VGG19', URL, 'auto', hub_dir=tmp_path)
    assert torch.equal(sd['w'], torch.ones(1)) and info['pretrained'] and info['source'] == URL
    assert got == {'url': URL, 'model_dir': str(tmp_path / 'checkpoints'), 'progress': True}

def test_auto_offline_names_the_ways_out(tmp_path, monkeypatch):
    monkeypatch.setenv('STRUCTFLOW_OFFLINE', '1')
    def never(*a, **kw): raise AssertionError('no download may start offline')
    monkeypatch.setattr(L.torch.hub, 'load_state_dict_from_url', never)
    with pytest.raises(L.PretrainedWeightsUnavailable, match=r'cannot reach download\.pytorch\.org.*vgg19-dcbb9e9d\.pth'):
        L.fetch_pretrained('VGG19', URL, 'auto', hub_dir=tmp_path)

def test_cache_first(tmp_path, monkeypatch):
    (tmp_path / 'checkpoints').mkdir(); torch.save({'w': torch.zeros(2)}, tmp_path / 'checkpoints' / 'vgg19-dcbb9e9d.pth')
    monkeypatch.setattr(L, 'online', lambda *a, **kw: pytest.fail('the cache must be used without asking the network'))
    sd, info = L.fetch_pretrained('VGG19', URL, 'auto', hub_dir=tmp_path)
    assert torch.equal(sd['w'], torch.zeros(2)) and info['source'].endswith('vgg19-dcbb9e9d.pth')
