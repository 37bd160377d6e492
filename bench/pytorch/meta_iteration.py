#!/usr/bin/env python3
"""PyTorch reference of one Engram meta-iteration (ideal weights, no PCM, batch 90, Scorbot task family).

The same computation as Engram's `MetaBatchEvaluator` with `MetaGradientOptions()` (pcm off, no rounding,
heaviside spikes, ALIF threshold dropped from the spike gradient), written as a PyTorch user would for
speed: tensors batched over the tasks ([B, N]), a Python loop over the 249 steps, float32, autograd for
the meta-gradient (spikes by a custom autograd Function: heaviside forward, triangular pseudo-derivative
backward). No sparsity tricks.

    trial 1 (trainee, meta-learned weights, e-prop traces ē and ψ)
    LSG on (clock, 48-bit target code) -> learning signals L
    ΔW = −η Σ_t ē_t ⊗ (L_t ψ_t)  for W_in and W_rec (per task)
    trial 2 (trainee, W + ΔW) -> joint velocities y
    loss_b = 0.5·MSE(y, ω) + 0.5·MSE(FK(q0 + 0.01·cumsum y), p)     (float64)
    objective = mean_b loss_b + λ Σ_n (rate_n − f₀)² for trainee (both trials) and LSG (batch-mean rates)

Usage:
    meta_iteration.py --reference ref.safetensors [--check] [--repeats 3] [--threads 2] [--compile]

`--reference` is the file `ENGRAM_BENCH_DUMP` makes engram-bench write (weights, tasks, Engram's per-task
losses, regularisers and gradient). `--check` prints the agreement with Engram; the timing prints one
JSON line per variant, like engram-bench.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError:  # the compare script checks this first; keep the message clear when run by hand
    sys.exit("meta_iteration.py: PyTorch is not importable by %s; set ENGRAM_TORCH_PYTHON to a python with torch" % sys.executable)

NAMES = ["W_in_trainee", "W_rec_trainee", "W_out_trainee", "W_in_lsg", "W_rec_lsg", "W_out_lsg"]

# Architecture (MetaArchitecture defaults, paper-model.md §2.1).
N_TRAINEE, N_CLOCK, N_OUT = 250, 5, 2
N_LSG_LIF, N_LSG_ALIF = 560, 240
N_LSG = N_LSG_LIF + N_LSG_ALIF
CODE_BITS, CODED = 16, 3
STEPS, CLOCK_WINDOW, CLOCK_EVERY = 249, 50, 10
THR_TRAINEE, THR_LSG = 0.6, 1.3
ALPHA = math.exp(-1 / 20.0)
KAPPA = math.exp(-1 / 20.0)
RHO = math.exp(-1 / 600.0)
N_REF = 5.0
GAMMA = 0.3
BETA = 1.6
ETA = 1e-4
LAMBDA = 0.25
F0_TRAINEE, F0_LSG = 20.0 / 1000, 10.0 / 1000
DT_ROBOT = 0.01


# ---------------------------------------------------------------------------------------------------
# safetensors (numpy): 8-byte little-endian header length, JSON header, raw little-endian data.

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U64": np.uint64, "U8": np.uint8}


def read_safetensors(path):
    """Tensors (numpy arrays) and the metadata dict of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file (no 8-byte header length)" % path)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, info["dtype"]))
        out[name] = np.frombuffer(data[base + start:base + end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(info["shape"]).copy()
    return out, meta


# ---------------------------------------------------------------------------------------------------
# Model pieces.

class HeavisideSpike(torch.autograd.Function):
    """z = H(d > 0); dz/dd = ψ = γ·max(0, 1 − |d|/thr)/thr (the paper's triangular pseudo-derivative)."""

    @staticmethod
    def forward(ctx, d, thr):
        ctx.save_for_backward(d)
        ctx.thr = thr
        return (d > 0).to(d.dtype)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        thr = ctx.thr
        psi = torch.clamp(1 - d.abs() / thr, min=0) * (GAMMA / thr)
        return grad * psi, None


spike = HeavisideSpike.apply


def pseudo_derivative(d, thr):
    """ψ as a differentiable function of d = v − thr (the e-prop factor inside ΔW)."""
    return torch.relu(1 - d.abs() / thr) * (GAMMA / thr)


def clock_input(steps=STEPS):
    """[T, 5] clock spikes: neuron (t // 50) % 5 spikes when t % 50 % 10 == 0."""
    x = np.zeros((steps, N_CLOCK), dtype=np.float32)
    for t in range(steps):
        if (t % CLOCK_WINDOW) % CLOCK_EVERY == 0:
            x[t, (t // CLOCK_WINDOW) % N_CLOCK] = 1
    return x


def target_code(positions):
    """[B, T, 48] bits: low 16 bits of trunc((c + 1)·2^15) per coordinate, least-significant bit first."""
    scaled = np.trunc((positions + 1.0) * float(1 << (CODE_BITS - 1))).astype(np.int64) & ((1 << CODE_BITS) - 1)
    bits = (scaled[..., None] >> np.arange(CODE_BITS)) & 1  # [B, T, 3, 16]
    return bits.reshape(positions.shape[0], positions.shape[1], CODED * CODE_BITS).astype(np.float32)


def scorbot_position(q1, q2):
    """End effector (x, y, z) of the Scorbot ER-VII (elbow and wrist at 0), float64 tensors [B, T]."""
    deg = math.pi / 180
    a1, a2, a3, a4, d1, d2, d3 = 0.050, 0.300, 0.350, 0.22, 0.3585, -0.098, 0.065
    offA = 3745578344.0 / 9093467413.0
    offB = 3357166075.0 / 8743247601.0
    offC = 1421104251.0 / 3634967671.0
    A = -(q1 + 23.6 * deg) + offA
    B = -(q2 - 22.0 * deg) - offB
    C = -(0.0 + 22.4 * deg) + offC  # elbow at its rest angle 0
    D = B + C  # wrist at 0
    r = a1 + a2 * torch.cos(B) + a3 * torch.cos(B + C) + a4 * torch.cos(D)
    d = d2 + d3
    x = torch.cos(A) * r - d * torch.sin(A)
    y = torch.sin(A) * r + d * torch.cos(A)
    z = d1 - a2 * torch.sin(B) - a3 * torch.sin(B + C) - a4 * torch.sin(D)
    return torch.stack([x, y, z], dim=-1)


def trainee_step(v, z, r, current, rec):
    """One trainee step given the recurrent input `rec` = W_recᵀ z_{t−1} (diagonal masked).
    Returns v_t, z_t, r_t, the non-refractory mask and ψ_t (differentiable in v_t)."""
    v = torch.add(ALPHA * v + current + rec, z, alpha=-THR_TRAINEE)
    active = (r <= 0.1).to(v.dtype)
    d = v - THR_TRAINEE
    z = active * spike(d, THR_TRAINEE)
    r = torch.clamp(r.detach() + N_REF * z.detach() - 1, 0, N_REF)
    return v, z, r, active, d


def lsg_step(v, z, r, b, current, w_rec, beta):
    """One LSG step: adaptation b (kept for all 800 neurons; β = 0 for the LIF ones), threshold A,
    reset −A z_{t−1}, spike against the detached threshold (the official graph drops ∂z/∂A)."""
    b = RHO * b + z
    A = THR_LSG + beta * b
    v = torch.addmm(ALPHA * v + current - A * z, z, w_rec)
    active = (r <= 0.1).to(v.dtype)
    z = active * spike(v - A.detach(), THR_LSG)
    r = torch.clamp(r.detach() + N_REF * z.detach() - 1, 0, N_REF)
    return v, z, r, b


class MetaIteration:
    """The ideal meta-objective of a batch of tasks; `objective(weights)` returns (objective, details).
    `compiled=True` runs the per-step cells through torch.compile."""

    def __init__(self, velocities, positions, rest_angles=(0.0, 0.0, 0.0, 0.0), driven=(0, 1), compiled=False):
        if tuple(driven) != (0, 1) or any(a != 0 for a in rest_angles):
            raise ValueError("this port implements the Scorbot family with joints 0, 1 driven from rest angles 0")
        self.batch = velocities.shape[0]
        self.velocities = torch.as_tensor(velocities, dtype=torch.float64)  # [B, T, 2]
        self.positions = torch.as_tensor(positions, dtype=torch.float64)    # [B, T, 3]
        clock = torch.as_tensor(clock_input())                              # [T, 5]
        self.clock = clock
        code = torch.as_tensor(target_code(positions))                      # [B, T, 48]
        self.lsg_input = torch.cat([clock.expand(self.batch, -1, -1), code], dim=2)  # [B, T, 53]
        self.mask_trainee = 1 - torch.eye(N_TRAINEE)
        self.mask_lsg = 1 - torch.eye(N_LSG)
        self.beta = torch.cat([torch.zeros(N_LSG_LIF), torch.full((N_LSG_ALIF,), BETA)])
        # ē^in_t = α ē^in_{t−1} + x_t: input-only, the same for every task.
        e_in = torch.zeros(STEPS, N_CLOCK)
        acc = torch.zeros(N_CLOCK)
        for t in range(STEPS):
            acc = ALPHA * acc + clock[t]
            e_in[t] = acc
        self.e_in = e_in
        self.compiled = compiled
        self.trainee_step = torch.compile(trainee_step, dynamic=False) if compiled else trainee_step
        self.lsg_step = torch.compile(lsg_step, dynamic=False) if compiled else lsg_step

    def trainee_trial(self, input_current, w_rec, w_out=None, traces=False):
        """One trainee trial. input_current [B or 1, T, N] (W_inᵀ x_t, precomputed); w_rec [N, N] or per task
        [B, N, N] (diagonal already masked). Returns spikes [B, T, N], readout [B, T, 2] (if w_out), and for
        trial 1 the e-prop factors ψ [B, T, N] and the recurrent eligibility ē^rec [B, T, N]."""
        B, n = self.batch, N_TRAINEE
        v = torch.zeros(B, n)
        z = torch.zeros(B, n)
        r = torch.zeros(B, n)
        e_rec = torch.zeros(B, n)
        zs, psis, es = [], [], []
        per_task = w_rec.dim() == 3
        step = self.trainee_step
        # unbind, not [:, t]: the backward of one unbind is one stack, that of 249 selects 249 full-size fills.
        currents = input_current.unbind(1)
        for t in range(STEPS):
            rec = torch.bmm(z.unsqueeze(1), w_rec).squeeze(1) if per_task else z @ w_rec
            if traces:
                e_rec = ALPHA * e_rec + z  # ē^rec_t = α ē^rec_{t−1} + z_{t−1}
                es.append(e_rec)
            v, z, r, active, d = step(v, z, r, currents[t], rec)
            if traces:
                psis.append(active * pseudo_derivative(d, THR_TRAINEE))
            zs.append(z)
        out = {"z": torch.stack(zs, 1)}
        if w_out is not None:
            # y_t = κ y_{t−1} + W_outᵀ z_t: one matmul for all steps, then the leaky filter.
            drive = out["z"] @ w_out  # [B, T, 2]
            y = torch.zeros(B, N_OUT)
            ys = []
            for d_t in drive.unbind(1):
                y = KAPPA * y + d_t
                ys.append(y)
            out["y"] = torch.stack(ys, 1)
        if traces:
            out["psi"] = torch.stack(psis, 1)
            out["e_rec"] = torch.stack(es, 1)
        return out

    def lsg(self, w_in, w_rec, w_out):
        """The LSG on (clock, target code): spikes [B, T, 800] and learning signals L [B, T, 250]."""
        B = self.batch
        current = self.lsg_input @ w_in  # [B, T, 800]
        w_rec = w_rec * self.mask_lsg
        v = torch.zeros(B, N_LSG)
        z = torch.zeros(B, N_LSG)
        r = torch.zeros(B, N_LSG)
        b = torch.zeros(B, N_LSG)
        zs = []
        step = self.lsg_step
        for c_t in current.unbind(1):
            v, z, r, b = step(v, z, r, b, c_t, w_rec, self.beta)
            zs.append(z)
        z_all = torch.stack(zs, 1)
        # L_t = κ L_{t−1} + W_outᵀ z_t: one matmul for all steps, then the leaky filter.
        drive = z_all @ w_out  # [B, T, 250]
        L = torch.zeros(B, N_TRAINEE)
        Ls = []
        for d_t in drive.unbind(1):
            L = KAPPA * L + d_t
            Ls.append(L)
        return z_all, torch.stack(Ls, 1)

    def objective(self, w):
        """Total objective and details for weights `w` (dict of the six float32 tensors)."""
        B = self.batch
        w_rec_t = w["W_rec_trainee"] * self.mask_trainee
        # Trial 1 (the trainee's clock input is the same for every task).
        current1 = (self.clock @ w["W_in_trainee"]).unsqueeze(0)  # [1, T, N]
        t1 = self.trainee_trial(current1, w_rec_t, traces=True)
        # Learning signals.
        z_lsg, L = self.lsg(w["W_in_lsg"], w["W_rec_lsg"], w["W_out_lsg"])
        # Natural e-prop update: ΔW = −η Σ_t ē_t (L_t ψ_t)ᵀ, ē^in_t = α ē^in_{t−1} + x_t.
        learning = L * t1["psi"]  # [B, T, N]
        d_in = -ETA * torch.einsum("ti,btn->bin", self.e_in, learning)                 # [B, 5, N]
        d_rec = -ETA * torch.bmm(t1["e_rec"].transpose(1, 2), learning)           # [B, N, N]
        w1_in = w["W_in_trainee"].unsqueeze(0) + d_in
        w1_rec = (w["W_rec_trainee"].unsqueeze(0) + d_rec) * self.mask_trainee
        # Trial 2 with each task's updated weights.
        current2 = torch.einsum("ti,bin->btn", self.clock, w1_in)
        t2 = self.trainee_trial(current2, w1_rec, w_out=w["W_out_trainee"])
        # Loss in float64.
        y = t2["y"].double()  # [B, T, 2]
        q = DT_ROBOT * torch.cumsum(y, dim=1)
        p = scorbot_position(q[..., 0], q[..., 1])
        velocity_error = ((y - self.velocities) ** 2).mean(dim=(1, 2))
        position_error = ((p - self.positions) ** 2).mean(dim=(1, 2))
        task_losses = 0.5 * velocity_error + 0.5 * position_error
        # Rate regularisers on batch-mean rates (trainee over both trials).
        rate_t = (t1["z"].sum(dim=(0, 1)) + t2["z"].sum(dim=(0, 1))).double() / (B * 2 * STEPS)
        rate_l = z_lsg.sum(dim=(0, 1)).double() / (B * STEPS)
        reg_t = LAMBDA * ((rate_t - F0_TRAINEE) ** 2).sum()
        reg_l = LAMBDA * ((rate_l - F0_LSG) ** 2).sum()
        total = task_losses.mean() + reg_t + reg_l
        details = {
            "task_losses": task_losses.detach(), "trainee_regularizer": reg_t.detach(), "lsg_regularizer": reg_l.detach(),
            "trainee_rate_hz": float(rate_t.detach().mean()) * 1000, "lsg_rate_hz": float(rate_l.detach().mean()) * 1000,
        }
        return total, details


def leaf_weights(ref):
    return {name: torch.tensor(ref[name], dtype=torch.float32, requires_grad=True) for name in NAMES}


# ---------------------------------------------------------------------------------------------------

def check(model, ref):
    """Agreement with Engram's dumped losses, regularisers and gradient; returns a JSON-able dict."""
    w = leaf_weights(ref)
    total, d = model.objective(w)
    total.backward()
    ours = d["task_losses"].numpy()
    theirs = ref["task_losses"]
    rel = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)
    out = {
        "bench": "pytorch_vs_engram_check", "compiled": model.compiled,
        "task_loss_max_rel_diff": float(rel.max()),
        "task_loss_median_rel_diff": float(np.median(rel)),
        "tasks_over_1e-4": int((rel > 1e-4).sum()),
        "objective_torch": total.item(), "objective_engram": float(ref["loss"][0]),
        "trainee_regularizer_rel_diff": float(abs(float(d["trainee_regularizer"]) - ref["trainee_regularizer"][0]) / abs(ref["trainee_regularizer"][0])),
        "lsg_regularizer_rel_diff": float(abs(float(d["lsg_regularizer"]) - ref["lsg_regularizer"][0]) / abs(ref["lsg_regularizer"][0])),
        "trainee_rate_hz": d["trainee_rate_hz"], "lsg_rate_hz": d["lsg_rate_hz"],
    }
    for name in NAMES:
        g = w[name].grad.double().numpy().ravel()
        e = ref["grad." + name].astype(np.float64).ravel()
        cos = float(g @ e / (np.linalg.norm(g) * np.linalg.norm(e) + 1e-300))
        rel_l2 = float(np.linalg.norm(g - e) / (np.linalg.norm(e) + 1e-300))
        out["grad_" + name] = {"cosine": round(cos, 7), "rel_l2": float("%.3g" % rel_l2)}
    return out


def cpu_seconds():
    return time.process_time()


def time_iteration(model, ref, repeats, objective=None):
    """Median wall and CPU seconds of the forward (graph recorded) and of backward()."""
    objective = objective or model.objective
    fw, bw, fc, bc, nograd_w, nograd_c = [], [], [], [], [], []
    for i in range(repeats + 1):  # the first is a warm-up
        w = leaf_weights(ref)
        c0, t0 = cpu_seconds(), time.perf_counter()
        total, _ = objective(w)
        c1, t1 = cpu_seconds(), time.perf_counter()
        total.backward()
        c2, t2 = cpu_seconds(), time.perf_counter()
        with torch.no_grad():
            objective(w)
        c3, t3 = cpu_seconds(), time.perf_counter()
        del total
        if i == 0:
            continue
        fw.append(t1 - t0); bw.append(t2 - t1); fc.append(c1 - c0); bc.append(c2 - c1)
        nograd_w.append(t3 - t2); nograd_c.append(c3 - c2)
    med = lambda xs: 1e6 * float(np.median(xs))  # microseconds, like every engram-bench line
    return {
        "median_us": med([a + b for a, b in zip(fw, bw)]), "forward_us": med(fw), "backward_us": med(bw),
        "cpu_us": med([a + b for a, b in zip(fc, bc)]), "forward_cpu_us": med(fc), "backward_cpu_us": med(bc),
        "forward_nograd_us": med(nograd_w), "forward_nograd_cpu_us": med(nograd_c),
        "samples_total_us": [round(1e6 * (a + b)) for a, b in zip(fw, bw)],
    }


def peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="safetensors written by engram-bench with ENGRAM_BENCH_DUMP")
    ap.add_argument("--check", action="store_true", help="print the agreement with Engram's losses and gradient")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats after one warm-up (default 3; 0: no timing)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("ENGRAM_BENCH_THREADS", "2")))
    ap.add_argument("--compile", action="store_true", help="run the per-step cells through torch.compile (first call compiles; its time is reported)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        ref, meta = read_safetensors(args.reference)
    except (OSError, ValueError) as e:
        sys.exit("meta_iteration.py: cannot read the reference %s: %s (write it with ENGRAM_BENCH_DUMP=... engram-bench metalearning)" % (args.reference, e))
    missing = [k for k in NAMES + ["velocities", "positions", "task_losses"] if k not in ref]
    if missing:
        sys.exit("meta_iteration.py: %s lacks %s; regenerate it with ENGRAM_BENCH_DUMP" % (args.reference, ", ".join(missing)))
    rest = [float(a) for a in meta.get("rest_angles", "0,0,0,0").split(",")]
    driven = [int(a) for a in meta.get("driven_joints", "0,1").split(",")]
    model = MetaIteration(ref["velocities"], ref["positions"], rest_angles=rest, driven=driven, compiled=args.compile)
    compile_s = None
    if args.compile:
        c0 = time.perf_counter()
        try:
            w = leaf_weights(ref)
            total, _ = model.objective(w)  # compiles the forward cells
            total.backward()               # and their backward
        except Exception as e:  # report, do not hide: the eager figures stand on their own
            print(json.dumps({"bench": "pytorch_meta_iteration_batch90_ideal_compiled", "error": "%s: %s" % (type(e).__name__, str(e)[:300])}), flush=True)
            sys.exit(1)
        compile_s = time.perf_counter() - c0
    if args.check:
        print(json.dumps(check(model, ref)), flush=True)
    if args.repeats > 0:
        r = time_iteration(model, ref, args.repeats)
        name = "pytorch_meta_iteration_batch90_ideal" + ("_compiled" if args.compile else "")
        line = {"bench": name}
        line.update(r)
        line.update({"threads": args.threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
                     "compiled": args.compile, "repeats": args.repeats, "batch": model.batch, "torch": torch.__version__,
                     "peak_rss_mib": peak_rss_mib(),
                     "note": "forward = objective with the autograd graph; backward = total.backward(); float32, loss float64"})
        if compile_s is not None:
            line["first_call_with_compilation_us"] = 1e6 * compile_s
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
