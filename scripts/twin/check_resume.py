#!/usr/bin/python3
"""Checks that a twin run stopped by SIGINT and continued with --resume ends exactly
as an uninterrupted one: the same weights file, result (but for wall time) and
metrics (but for timings), for both data streams.

    /usr/bin/python3 scripts/twin/check_resume.py      # finds the data as train_twin.py does

A few seconds of a small ResNet-20 on the first 1,024 training images.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TWIN = os.path.join(HERE, 'train_twin.py')
sys.path.insert(0, HERE)
from train_twin import CHECKPOINT, data_path  # noqa: E402

ITERS = 60


def twin(*args):
    return [sys.executable, TWIN, '--model', 'resnet20', '--iters', str(ITERS), '--batch', '32',
            '--train-limit', '1024', '--eval-limit', '256', '--eval-every', '10', '--log-every', '5',
            '--threads', '1', '--data', DATA] + list(args)


def last_iter(d):
    try:
        with open(os.path.join(d, 'metrics.jsonl')) as f:
            return max([json.loads(l)['iter'] for l in f if l.strip()] or [0])
    except (OSError, ValueError):
        return 0


def interrupted(d, rng):
    p = subprocess.Popen(twin('--data-rng', rng, '--out', d), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while last_iter(d) < 25 and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out = p.communicate()[0].decode()
    if p.returncode == 0 or not os.path.exists(os.path.join(d, CHECKPOINT)):
        sys.exit('check_resume: the run was not stopped by the signal (exit %d):\n%s' % (p.returncode, out))
    stopped = last_iter(d)
    subprocess.run([sys.executable, TWIN, '--resume', d], check=True, stdout=subprocess.DEVNULL)
    return stopped


def without(path, keys):
    """The records of a JSON or JSON-lines file, less keys."""
    with open(path) as f:
        rows = [json.load(f)] if path.endswith('.json') else [json.loads(l) for l in f if l.strip()]
    return [{k: v for k, v in r.items() if k not in keys} for r in rows]


def main():
    problems = []
    for rng in ('go', 'torch'):
        with tempfile.TemporaryDirectory() as tmp:
            whole, cut = os.path.join(tmp, 'whole'), os.path.join(tmp, 'cut')
            subprocess.run(twin('--data-rng', rng, '--out', whole), check=True, stdout=subprocess.DEVNULL)
            stopped = interrupted(cut, rng)
            for name, keys in (('result.json', {'wall_s'}), ('metrics.jsonl', {'img_per_s', 'elapsed_s'})):
                if without(os.path.join(whole, name), keys) != without(os.path.join(cut, name), keys):
                    problems.append('%s (data rng %s): differs after a stop at iteration %d' % (name, rng, stopped))
            with open(os.path.join(whole, 'weights.safetensors'), 'rb') as a, \
                    open(os.path.join(cut, 'weights.safetensors'), 'rb') as b:
                if a.read() != b.read():
                    problems.append('weights.safetensors (data rng %s): differs after a stop at iteration %d'
                                    % (rng, stopped))
            print('data rng %s: stopped at iteration %d of %d, resumed' % (rng, stopped, ITERS))
    if problems:
        sys.exit('check_resume:\n  ' + '\n  '.join(problems))
    print('check_resume: a stopped and resumed run ends as an uninterrupted one')


DATA = data_path('', 'check_resume.py')
if __name__ == '__main__':
    main()
