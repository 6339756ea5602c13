"""Writes tests/data/official-d/: small discriminators built by the *official* StyleNAT code
(`models/discriminator.py`, the StyleSwin wavelet D that released checkpoints store under `d`),
with random weights, saved in both checkpoint layouts, plus their outputs on random images.

    ~/.cache/stylenat-anchor/venv/bin/python scripts/make_official_d_fixture.py \
        --src ~/.cache/stylenat-anchor/src --anchor ../shared/anchor

Nothing from the StyleNAT repository is copied: the official module is imported. Its channel
table is hard-coded (4–32 px: 512 channels); as in the anchor's `channel_base`, the integer
literals of that table are swapped in the constructor's constant table so the files stay small.
"""
import argparse, dis, os, sys, types
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--src", required=True)
p.add_argument("--anchor", required=True)
p.add_argument("--out", default="tests/data/official-d")
a = p.parse_args()
sys.path.insert(0, a.anchor)
from official_import import import_stylenat  # noqa: E402

import_stylenat(a.src)  # stubs the CUDA-op compile while `op` is imported
from models.discriminator import Discriminator  # noqa: E402  (official class)

LITERALS = (512, 256, 128, 64, 32, 16)


def build(size, base, cm, sn):
    co = Discriminator.__init__.__code__
    consts = list(co.co_consts)
    for i, c in enumerate(consts):
        if type(c) is int and c in LITERALS:
            consts[i] = c * base // 512
    Discriminator.__init__.__code__ = co.replace(co_consts=tuple(consts))
    try:
        args = types.SimpleNamespace(channel_multiplier=cm, sn=sn, blur_kernel=[1, 3, 3, 1])
        d = Discriminator(args=args, size=size)
    finally:
        Discriminator.__init__.__code__ = co
    return d


def make(name, size, base, cm, sn, hydra, seed):
    torch.manual_seed(seed)
    d = build(size, base, cm, sn)
    with torch.no_grad():  # move every parameter off its init (biases start at 0)
        for prm in d.parameters():
            prm.add_(0.3 * torch.randn_like(prm))
    x = torch.randn(2, 3, size, size)
    if sn:  # a few power iterations so u, v are not their random init
        d.train()
        for _ in range(3):
            d(x)
    d.eval()
    feats = []
    hooks = [c.register_forward_pre_hook(lambda m, i: feats.append(i[0].detach().clone()))
             for c in d.convs]
    hooks.append(d.from_rgbs[-1].register_forward_hook(
        lambda m, i, o: feats.append(o[1].detach().clone())))
    with torch.no_grad():
        logits = d(x)
    for h in hooks:
        h.remove()
    sd = d.state_dict()
    root = {"state_dicts": {"d": sd}} if hydra else {"d": sd}
    os.makedirs(a.out, exist_ok=True)
    torch.save(root, f"{a.out}/{name}.pt")
    np.save(f"{a.out}/{name}_in.npy", x.numpy())
    np.save(f"{a.out}/{name}_logits.npy", logits.numpy())
    for i, f in enumerate(feats):
        np.save(f"{a.out}/{name}_feature{i}.npy", f.numpy())
    print(name, [tuple(f.shape) for f in feats], logits.flatten().tolist(),
          sum(t.numel() for t in sd.values()), "values")


make("eq32_legacy", size=32, base=32, cm=1, sn=False, hydra=False, seed=1)
make("sn64_hydra", size=64, base=32, cm=1, sn=True, hydra=True, seed=2)
