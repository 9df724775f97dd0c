#!/usr/bin/env python3
"""Check a `clt-convert export` folder the way circuit-tracer loads it.

Usage: scripts/check-circuit-tracer-export.py DIR [CLT.h5]

Reads DIR as circuit-tracer's `_load_state_dict` and `load_transcoders` do
(circuit_tracer/transcoder/cross_layer_transcoder.py, circuit_tracer/utils/hf_utils.py): the layer
count from the W_enc_*.safetensors files, d_transcoder and d_model from W_enc_0, b_enc/b_dec/
threshold per layer, W_dec_i of shape (d_transcoder, n_layers - i, d_model), and config.yaml's
model_kind and hooks. It checks every name and shape, then runs circuit-tracer's forward pass
(encode: einsum("bd,fd->bf") + b_enc, JumpReLU `features > threshold`; decode: each feature's
W_dec_i rows into layers i..L-1, plus b_dec) on random inputs. With CLT.h5 (needs h5py) it also
runs clt.h5's own computation (inputs times input_scale, reconstruction over output_scale) and
compares the two. Needs torch, safetensors and PyYAML. When circuit-tracer is installed (even as
`pip install --no-deps circuit-tracer`, without TransformerLens), the folder is also loaded with its
own `load_clt` and its `encode`/`decode` are compared with the forward pass above.
Not used by the Swift tests.
"""

import glob
import importlib.util
import os
import sys
import types

import torch
import yaml
from safetensors import safe_open


def load(path):
    with open(os.path.join(path, "config.yaml")) as f:
        config = yaml.safe_load(f)
    assert config["model_kind"] == "cross_layer_transcoder", config["model_kind"]
    for key in ("feature_input_hook", "feature_output_hook"):
        assert isinstance(config.get(key), str), f"config.yaml lacks {key}"
    n_layers = len(glob.glob(os.path.join(path, "W_enc_*.safetensors")))
    with safe_open(os.path.join(path, "W_enc_0.safetensors"), framework="pt") as f:
        d_transcoder, d_model = f.get_slice("W_enc_0").get_shape()
        has_threshold = "threshold_0" in f.keys()
    w_enc, b_enc, b_dec, threshold, w_dec = [], [], [], [], []
    for i in range(n_layers):
        with safe_open(os.path.join(path, f"W_enc_{i}.safetensors"), framework="pt") as f:
            expected = {f"W_enc_{i}", f"b_enc_{i}", f"b_dec_{i}"} | ({f"threshold_{i}"} if has_threshold else set())
            assert set(f.keys()) == expected, (i, sorted(f.keys()))
            w_enc.append(f.get_tensor(f"W_enc_{i}"))
            b_enc.append(f.get_tensor(f"b_enc_{i}"))
            b_dec.append(f.get_tensor(f"b_dec_{i}"))
            if has_threshold:
                threshold.append(f.get_tensor(f"threshold_{i}"))
        with safe_open(os.path.join(path, f"W_dec_{i}.safetensors"), framework="pt") as f:
            assert set(f.keys()) == {f"W_dec_{i}"}, (i, sorted(f.keys()))
            w_dec.append(f.get_tensor(f"W_dec_{i}"))
        assert tuple(w_enc[i].shape) == (d_transcoder, d_model), (i, w_enc[i].shape)
        assert tuple(b_enc[i].shape) == (d_transcoder,) and tuple(b_dec[i].shape) == (d_model,)
        if has_threshold:
            assert tuple(threshold[i].shape) == (d_transcoder,)
        assert tuple(w_dec[i].shape) == (d_transcoder, n_layers - i, d_model), (i, w_dec[i].shape)
    return config, w_enc, b_enc, b_dec, threshold, w_dec


def circuit_tracer_forward(x, w_enc, b_enc, b_dec, threshold, w_dec):
    """x: (n_layers, n_pos, d_model) raw activations -> features, reconstruction."""
    n_layers = len(w_enc)
    features = []
    for i in range(n_layers):
        h = torch.einsum("bd,fd->bf", x[i], w_enc[i]) + b_enc[i]
        features.append(h * (h > threshold[i]) if threshold else torch.relu(h))
    recon = torch.stack(b_dec)[:, None].repeat(1, x.shape[1], 1)
    for i in range(n_layers):
        # (pos, f) x (f, L - i, d) -> (L - i, pos, d): feature i's writes into layers i..L-1.
        recon[i:] += torch.einsum("pf,fjd->jpd", features[i], w_dec[i])
    return torch.stack(features), recon


def cltkit_forward(h5, x):
    import h5py

    with h5py.File(h5, "r") as f:
        n_layers = int(f.attrs["n_layers"])
        s_in, s_out = f["input_scale"][()], f["output_scale"][()]
        features, recon = [], []
        for i in range(n_layers):
            h = torch.from_numpy(x[i].numpy() * s_in[i]) @ torch.from_numpy(f[f"W_enc_{i}"][()]).T
            h = h + torch.from_numpy(f[f"b_enc_{i}"][()])
            theta = torch.exp(torch.from_numpy(f[f"log_threshold_{i}"][()]))
            features.append(h * (h > theta))
        for t in range(n_layers):
            y = torch.from_numpy(f[f"b_dec_{t}"][()]).repeat(x.shape[1], 1)
            for i in range(t + 1):
                y = y + features[i] @ torch.from_numpy(f[f"W_dec_{i}_{t}"][()])
            recon.append(y / s_out[t])
    return torch.stack(features), torch.stack(recon)


def circuit_tracer_module():
    """circuit-tracer's cross_layer_transcoder module, or None when it is not installed.

    Loaded by file, with stand-ins for the package and its utils, so that circuit_tracer/__init__.py
    (which imports TransformerLens for its ReplacementModel) does not run.
    """
    spec = importlib.util.find_spec("circuit_tracer")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = list(spec.submodule_search_locations)[0]
    for name, folder in [("circuit_tracer", ""), ("circuit_tracer.utils", "utils"), ("circuit_tracer.transcoder", "transcoder")]:
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(root, folder)]
        sys.modules[name] = module
    sys.modules["circuit_tracer.utils"].get_default_device = lambda: torch.device("cpu")

    def load_file(name, relative):
        file_spec = importlib.util.spec_from_file_location(name, os.path.join(root, relative))
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
        return module

    load_file("circuit_tracer.transcoder.activation_functions", "transcoder/activation_functions.py")
    return load_file("circuit_tracer.transcoder.cross_layer_transcoder", "transcoder/cross_layer_transcoder.py")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    config, w_enc, b_enc, b_dec, threshold, w_dec = load(sys.argv[1])
    n_layers, (d_transcoder, d_model) = len(w_enc), tuple(w_enc[0].shape)
    print(
        f"ok: {n_layers} layers, d_transcoder {d_transcoder}, d_model {d_model}, "
        f"{'jump_relu' if threshold else 'relu'}, hooks {config['feature_input_hook']} -> "
        f"{config['feature_output_hook']}, model_name {config.get('model_name')}"
    )
    torch.manual_seed(0)
    x = torch.randn(n_layers, 16, d_model)
    features, recon = circuit_tracer_forward(x, w_enc, b_enc, b_dec, threshold, w_dec)
    print(f"forward: mean L0 {(features > 0).float().sum(-1).mean():.2f}")
    module = circuit_tracer_module()
    if module is None:
        print("circuit-tracer not installed: its own load_clt was not tried")
    else:
        clt = module.load_clt(
            sys.argv[1],
            feature_input_hook=config["feature_input_hook"],
            feature_output_hook=config["feature_output_hook"],
            device=torch.device("cpu"),
            dtype=torch.float32,
            lazy_decoder=False,
        )
        assert (clt.n_layers, clt.d_transcoder, clt.d_model) == (n_layers, d_transcoder, d_model)
        ct_features = clt.encode(x)
        ct_recon = clt.decode(ct_features.to_sparse())
        n_pos = ct_recon.shape[1]  # decode covers positions up to the last one with an active feature
        assert torch.equal(ct_features > 0, features > 0), "circuit-tracer fires other features"
        rel = ((ct_recon - recon[:, :n_pos]).abs().max() / recon.abs().max()).item()
        print(f"circuit-tracer's load_clt agrees: same features, reconstructions differ by {rel:.2e}")
        assert rel < 1e-4, rel
    if len(sys.argv) == 3:
        ref_features, ref_recon = cltkit_forward(sys.argv[2], x)
        assert torch.equal(features > 0, ref_features > 0), "different features fire"
        rel = ((recon - ref_recon).abs().max() / ref_recon.abs().max()).item()
        print(f"matches {sys.argv[2]}: same features fire, reconstructions differ by {rel:.2e} (relative)")
        assert rel < 1e-4, rel


if __name__ == "__main__":
    main()
