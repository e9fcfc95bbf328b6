#!/usr/bin/env python3
"""Golden file for the SGD optimizer: test/golden/sgd_optim.json.

torch.optim.SGD runs 4 steps on two float32 parameters (shapes [3, 2] and [4]) with given gradients and a
learning rate that changes every step (set through param_groups, as a schedule does), for several settings:
momentum, dampening, nesterov, coupled weight decay, per-group weight decay (a group with decay 0, as the
no-decay-on-norm rule makes) and torch.nn.utils.clip_grad_norm_ before each step. The file records the initial
parameters, the gradients of every step, and the parameters and momentum buffers after every step, all float32.
Initial values and gradients are deterministic: sin of an affine function of (tensor, index, step).

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/sgd_optim.py
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden', 'sgd_optim.json')
SHAPES = {'w': [3, 2], 'b': [4]}
LRS = [0.1, 0.05, 0.2, 0.01]
CASES = [
    {'name': 'plain', 'momentum': 0.0, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.0},
    {'name': 'momentum_wd', 'momentum': 0.9, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.01},
    {'name': 'dampening', 'momentum': 0.9, 'dampening': 0.3, 'nesterov': False, 'weightDecay': 0.0},
    {'name': 'nesterov_wd', 'momentum': 0.9, 'dampening': 0.0, 'nesterov': True, 'weightDecay': 0.05},
    {'name': 'groups_no_decay_on_b', 'momentum': 0.9, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.1,
     'groupWeightDecay': {'b': 0.0}},
    {'name': 'clip_norm', 'momentum': 0.9, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.01,
     'clipMaxNorm': 0.5},
]


def values(t, step, n):
    return [math.sin(1.0 + 0.7 * i + 1.3 * step + 2.1 * t) * (1.5 if step >= 0 else 1.0) for i in range(n)]


def main():
    init = {}
    grads = []
    for t, (name, shape) in enumerate(SHAPES.items()):
        init[name] = torch.tensor(values(t, -1, math.prod(shape)), dtype=torch.float32).reshape(shape)
    for step in range(len(LRS)):
        grads.append({name: torch.tensor(values(t, step, math.prod(shape)), dtype=torch.float32).reshape(shape)
                      for t, (name, shape) in enumerate(SHAPES.items())})
    out_cases = []
    for case in CASES:
        params = {n: torch.nn.Parameter(init[n].clone()) for n in SHAPES}
        gwd = case.get('groupWeightDecay', {})
        groups = [{'params': [params[n]], 'weight_decay': gwd.get(n, case['weightDecay'])} for n in SHAPES]
        opt = torch.optim.SGD(groups, lr=LRS[0], momentum=case['momentum'], dampening=case['dampening'],
                              nesterov=case['nesterov'], weight_decay=case['weightDecay'])
        steps = []
        for s, lr in enumerate(LRS):
            for g in opt.param_groups:
                g['lr'] = lr
            for n in SHAPES:
                params[n].grad = grads[s][n].clone()
            total_norm = None
            if 'clipMaxNorm' in case:
                total_norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), case['clipMaxNorm']))
            opt.step()
            rec = {'params': {n: params[n].detach().reshape(-1).tolist() for n in SHAPES}}
            if case['momentum'] != 0:
                rec['momentumBuffers'] = {n: opt.state[params[n]]['momentum_buffer'].reshape(-1).tolist() for n in SHAPES}
            if total_norm is not None:
                rec['totalNorm'] = total_norm
            steps.append(rec)
        out_cases.append({**case, 'steps': steps})
    doc = {
        'generator': 'scripts/parity/sgd_optim.py',
        'reference': f'torch {torch.__version__}: torch.optim.SGD, torch.nn.utils.clip_grad_norm_',
        'seed': None,
        'shapes': SHAPES,
        'lrs': LRS,
        'init': {n: init[n].reshape(-1).tolist() for n in SHAPES},
        'grads': [{n: g[n].reshape(-1).tolist() for n in SHAPES} for g in grads],
        'cases': out_cases,
    }
    with open(OUT + '.tmp', 'w') as f:
        json.dump(doc, f)
        f.write('\n')
    os.replace(OUT + '.tmp', OUT)
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
