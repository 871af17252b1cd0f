"""Pack a trained run as a shipped model: float16 generator weights plus its evaluation, training summary and command.

    python tools/ship_model.py RUN_DIR EVAL_DIR structflow/pretrained/NAME.pt --command "structflow train ..." --data-command "structflow synth ..."

RUN_DIR is a `structflow train` run folder, EVAL_DIR the `--out` folder of `structflow eval` on it.
tools/gpu_session.py packs its GPU runs the same way."""
import argparse, json, sys
from pathlib import Path

def pack_model(run, ev, out, command=None, data_command=None) -> Path:
    "Write the shipped model file `out` from run folder `run` and eval folder `ev`."
    from structflow.checkpoint import read_checkpoint, atomic_save
    run, ev = Path(run), Path(ev)
    ck = read_checkpoint(run / 'model.pt')
    ck['generator'] = {k: v.half() if v.is_floating_point() else v for k, v in ck['generator'].items()}
    res = json.loads((ev / 'metrics.json').read_text()); res.pop('pairs', None)
    cfg = json.loads((run / 'config.json').read_text())
    ck['meta'].update(eval=res, train_summary=json.loads((run / 'summary.json').read_text()), machine=cfg.get('machine'), command=command,
                   data_command=data_command)
    return atomic_save(ck, out)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run'); p.add_argument('eval'); p.add_argument('out'); p.add_argument('--command'); p.add_argument('--data-command')
    a = p.parse_args()
    print(f'wrote {pack_model(a.run, a.eval, a.out, a.command, a.data_command)}')
