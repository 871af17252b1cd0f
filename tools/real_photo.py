"""Draw the README's real-photo picture: a shipped synthetic model on a real photograph, as a user would run it.

The photograph is scikit-image's `data.astronaut()` (Eileen Collins, NASA, public domain), 512x512, bundled with
scikit-image (a dev dependency). Its pose (images/astronaut-pose.json) was marked by hand; the target pose
(images/astronaut-target.json) is the same pose with the right arm raised. Both state the photo's size.

    python tools/real_photo.py        # writes images/real-photo.png and images/real-photo-explain.png
"""
import sys, tempfile
from pathlib import Path
from PIL import Image
from structflow.cli import main

ROOT = Path(__file__).resolve().parents[1]

def run(model: str = 'synthetic-256x176') -> int:
    from skimage import data
    with tempfile.TemporaryDirectory() as d:
        photo = Path(d) / 'astronaut.png'; Image.fromarray(data.astronaut()).save(photo)
        return main(['generate', '--checkpoint', model, '--source', str(photo), '--source-pose', str(ROOT / 'images' / 'astronaut-pose.json'),
                     '--target-pose', str(ROOT / 'images' / 'astronaut-target.json'), '--out', str(ROOT / 'images' / 'real-photo.png'), '--explain'])

if __name__ == '__main__': sys.exit(run(*sys.argv[1:]))
