#!/usr/bin/python3
"""Checks that train_twin.py --data-rng go yields the Go trainer's batches.

    go run ./scripts/twin/testdata/gobatch -n 20 > /tmp/gobatch.jsonl   # train-limit 512, batch 32, seed 1
    /usr/bin/python3 scripts/twin/check_data_rng.py /tmp/gobatch.jsonl

Compares labels, the first pixels, one inner pixel and the sum of every batch
(normalized float32 values) of train_twin.TrainStream with the Go digests.
Both read CIFAR-10 from $CIFAR10_DATA, else from cmd/train's cache path.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_twin as tt  # noqa: E402


def main():
    path = sys.argv[1]
    want = [json.loads(l) for l in open(path)]
    train, _ = tt.load_cifar10(tt.data_path('', 'check_data_rng.py'))
    train = tt.head(train, 512)
    st = tt.compute_stats(train[0], 'per-pixel-mean')
    s = tt.TrainStream(train, tt.Normalizer(st), 32, 1, 'go')
    bad = 0
    for i, w in enumerate(want):
        x, y = s.batch_at(i)
        flat = x.reshape(-1)
        got_first = [float(v) for v in flat[:8]]
        ok = (y.tolist() == w['labels']
              and all(abs(a - b) <= 1e-6 for a, b in zip(got_first, w['first']))
              and abs(float(flat[1000]) - w['px1000']) <= 1e-6
              and abs(float(flat.double().sum()) - w['sum']) <= 1e-3)
        print('batch %2d (epoch %d): %s  sum go %.4f twin %.4f' % (i, i // s.per_epoch, 'same' if ok else 'DIFFERENT',
                                                                   w['sum'], float(flat.double().sum())))
        bad += not ok
    print('all %d batches identical' % len(want) if not bad else '%d batches differ' % bad)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
