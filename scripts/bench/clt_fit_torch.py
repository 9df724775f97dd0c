#!/usr/bin/env python3
"""The dense PyTorch reference for `make bench`'s clt_fit: the same CLT and loss as clt-fit,
written as the GPU tools write it (every feature's decoder applied densely), on CPU torch.

Per layer l: h = x W_enc^T + b_enc; JumpReLU a = h * (h > theta) with the rectangle-kernel
straight-through estimator for log theta; y_hat[l'] = b_dec[l'] + sum_{l <= l'} a[l] W_dec[l->l']
(one (F, (L-l) d) matrix per source layer, as circuit-tracer stores it); loss = MSE +
lambda * sum tanh(c ||W_dec,i|| a_i) + lambda_p * sum relu(theta - h); Adam, global-norm clipping.
Inputs are random, scaled like clt-fit's (mean squared norm d): a dense step costs the same
whatever the data. Prints {"side": "pytorch", "bench": ..., "tokens", "seconds", "tokens_per_second"}.
"""
import argparse
import json
import time

import torch


class JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, log_theta, eps):
        theta = log_theta.exp()
        ctx.save_for_backward(h, theta)
        ctx.eps = eps
        return h * (h > theta)

    @staticmethod
    def backward(ctx, grad):
        h, theta = ctx.saved_tensors
        eps = ctx.eps
        grad_h = grad * (h > theta)
        window = ((h - theta).abs() < eps / 2).to(h.dtype)
        grad_theta = (grad * window * (-theta / eps)).sum(0)
        return grad_h, grad_theta * theta, None


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--d-model", type=int, default=768)
    p.add_argument("--features", type=int, default=6144)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=3, help="timed steps, after one warm-up step")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--label", default="clt_fit")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    L, d, F, N = a.layers, a.d_model, a.features, a.batch
    W_enc = [torch.nn.Parameter(torch.empty(F, d).uniform_(-d ** -0.5, d ** -0.5)) for _ in range(L)]
    b_enc = [torch.nn.Parameter(torch.zeros(F)) for _ in range(L)]
    log_theta = [torch.nn.Parameter(torch.full((F,), 0.1).log()) for _ in range(L)]
    bound = (L * F) ** -0.5
    W_dec = [torch.nn.Parameter(torch.empty(F, (L - l) * d).uniform_(-bound, bound)) for l in range(L)]
    b_dec = [torch.nn.Parameter(torch.zeros(d)) for _ in range(L)]
    params = W_enc + b_enc + log_theta + W_dec + b_dec
    opt = torch.optim.Adam(params, lr=2e-4)
    lam, c, lam_p, eps = 1e-3, 1.0, 3e-6, 1e-3

    def step():
        x = [torch.randn(N, d) for _ in range(L)]
        y = [torch.randn(N, d) for _ in range(L)]
        y_hat = [b.expand(N, d) for b in b_dec]
        sparsity = 0
        preact = 0
        for l in range(L):
            h = x[l] @ W_enc[l].T + b_enc[l]
            act = JumpReLU.apply(h, log_theta[l], eps)
            out = (act @ W_dec[l]).view(N, L - l, d)
            for t in range(l, L):
                y_hat[t] = y_hat[t] + out[:, t - l]
            norms = W_dec[l].norm(dim=1)
            sparsity = sparsity + torch.tanh(c * norms * act).sum()
            preact = preact + torch.relu(log_theta[l].exp() - h).sum()
        mse = sum(((yh - yt) ** 2).sum() for yh, yt in zip(y_hat, y))
        loss = (mse + lam * sparsity + lam_p * preact) / N
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()  # warm-up: allocations, Adam state
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    tokens = a.steps * N
    print(json.dumps({"side": "pytorch", "bench": a.label, "tokens": tokens, "seconds": round(seconds, 4),
                      "tokens_per_second": round(tokens / seconds, 2), "features": F, "batch": N}))


if __name__ == "__main__":
    main()
