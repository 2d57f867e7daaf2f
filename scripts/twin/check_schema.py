#!/usr/bin/python3
"""Checks that a PyTorch-twin run (or sweep) directory has the Go trainer's file schema.

    /usr/bin/python3 scripts/twin/check_schema.py GO_DIR TWIN_DIR

Both are run directories or both sweep directories. Every JSON file must parse; the
keys of metrics.jsonl points (and which of them are null), result.json,
summary.json, stats.json and config.json's "config" must be the same.
"""
import json
import os
import sys


def keys_of_metrics(path):
    pts = [json.loads(l) for l in open(path) if l.strip()]
    ks = {tuple(p.keys()) for p in pts}
    nulls = [tuple(k for k, v in p.items() if v is None) for p in pts]
    return pts, ks, nulls


def check_run(go, tw, problems):
    gp, gk, gn = keys_of_metrics(os.path.join(go, 'metrics.jsonl'))
    tp, tk, tn = keys_of_metrics(os.path.join(tw, 'metrics.jsonl'))
    if gk != tk:
        problems.append('%s metrics keys: go %s twin %s' % (tw, gk, tk))
    if [p['iter'] for p in gp] != [p['iter'] for p in tp]:
        problems.append('%s metrics iterations: go %s twin %s' % (tw, [p['iter'] for p in gp], [p['iter'] for p in tp]))
    if gn != tn:
        problems.append('%s null fields per point: go %s twin %s' % (tw, gn, tn))
    for f in ('result.json', 'stats.json'):
        g, t = json.load(open(os.path.join(go, f))), json.load(open(os.path.join(tw, f)))
        if list(g) != list(t):
            problems.append('%s %s keys: go %s twin %s' % (tw, f, list(g), list(t)))
    g, t = json.load(open(os.path.join(go, 'config.json'))), json.load(open(os.path.join(tw, 'config.json')))
    gc = [k for k in g['config'] if k not in ('init_from', 'init_non_strict')]
    if gc != list(t['config']):
        problems.append('%s config.json config keys: go %s twin %s' % (tw, gc, list(t['config'])))
    for k in ('train_images', 'eval_images', 'eval_set'):
        if g[k] != t[k]:
            problems.append('%s config.json %s: go %r twin %r' % (tw, k, g[k], t[k]))
    return len(gp)


def main():
    go, tw = sys.argv[1:3]
    problems = []
    if os.path.exists(os.path.join(go, 'summary.json')):
        gs, ts = json.load(open(os.path.join(go, 'summary.json'))), json.load(open(os.path.join(tw, 'summary.json')))
        if [list(r) for r in gs] != [list(r) for r in ts]:
            problems.append('summary.json keys differ')
        if [r['model'] for r in gs] != [r['model'] for r in ts]:
            problems.append('summary.json models: go %s twin %s' % ([r['model'] for r in gs], [r['model'] for r in ts]))
        gw, tw_ = json.load(open(os.path.join(go, 'sweep.json'))), json.load(open(os.path.join(tw, 'sweep.json')))
        for a, b in zip(gw['runs'], tw_['runs']):
            for k in ('model', 'iters', 'milestones', 'eval_every', 'log_every', 'batch_size', 'lr'):
                if a[k] != b[k]:
                    problems.append('sweep.json %s %s: go %r twin %r' % (a['model'], k, a[k], b[k]))
        for r in gs:
            n = check_run(os.path.join(go, r['model']), os.path.join(tw, r['model']), problems)
            print('%-10s %d points checked' % (r['model'], n))
    else:
        print('%d points checked' % check_run(go, tw, problems))
    for p in problems:
        print('DIFF', p)
    print('schema OK' if not problems else '%d differences' % len(problems))
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
