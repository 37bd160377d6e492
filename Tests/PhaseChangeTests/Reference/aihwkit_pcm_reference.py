#!/usr/bin/env python3
"""Independent reference for aihwkit 1.1's PCMLikeNoiseModel (IBM/aihwkit,
src/aihwkit/inference/noise/pcm.py), written from its published equations with numpy only.

For one polarity of devices programmed at g_target = g_hat * g_max (g_max = 25 uS):

  programming:  sigma_prog = (c0 + c1 g_hat + c2 g_hat^2) * g_max / 25,  c = (0.26348, 1.9650, -1.1731)
                g_prog     = max(g_target + sigma_prog * N(0,1), 0)
  drift:        mu_nu  = clip(-0.0155 ln g_hat + 0.0244, 0.049, 0.1)
                sig_nu = clip(-0.0125 ln g_hat - 0.0059, 0.008, 0.045)
                nu     = |mu_nu + sig_nu * N(0,1)|
                t      = t_inference + t0,  t0 = 20 s
                g_drift = g_prog * (t / t0)^(-nu)          (for t > t0, else g_prog)
  read noise:   Q_s   = min(0.0088 / max((g_prog / g_max)^0.65, 1e-3), 0.2)
                sigma = Q_s * sqrt(ln((t + t_read) / (2 t_read))),  t_read = 250 ns
                g_final = max(g_drift + |g_drift| * sigma * N(0,1), 0)

Prints one JSON object: {"g_hat": {"t": {"after_programming": {mean, std}, "at_t": {mean, std},
"nu": {mean, std}}}}. The Swift test CharacterizationTests compares `engram pcm characterize --model
physical` with the stored output (aihwkit_pcm_reference.json): mean within 2 %, std within 5 %.

Run: python3 aihwkit_pcm_reference.py > aihwkit_pcm_reference.json
"""
import json
import numpy as np

G_MAX = 25.0
T0 = 20.0
T_READ = 250e-9
COEFF = (0.26348, 1.9650, -1.1731)
DEVICES = 2_000_000
G_HATS = (0.1, 0.5, 1.0)
TIMES = (1.0, 3600.0, 86400.0, 31536000.0)


def moments(x):
    return {"mean": float(np.mean(x)), "std": float(np.std(x))}


def characterize(g_hat, t_inference, rng):
    g_target = np.full(DEVICES, g_hat * G_MAX)
    sigma_prog = (COEFF[0] + COEFF[1] * g_hat + COEFF[2] * g_hat ** 2) * G_MAX / 25.0
    g_prog = np.maximum(g_target + sigma_prog * rng.standard_normal(DEVICES), 0.0)

    g_rel = max(abs(g_hat), 1e-7)
    mu_nu = np.clip(-0.0155 * np.log(g_rel) + 0.0244, 0.049, 0.1)
    sig_nu = np.clip(-0.0125 * np.log(g_rel) - 0.0059, 0.008, 0.045)
    nu = np.abs(mu_nu + sig_nu * rng.standard_normal(DEVICES))

    t = t_inference + T0
    g_drift = g_prog * (t / T0) ** (-nu) if t > T0 else g_prog
    q_s = np.minimum(0.0088 / np.maximum((np.abs(g_prog) / G_MAX) ** 0.65, 1e-3), 0.2)
    sigma = q_s * np.sqrt(np.log((t + T_READ) / (2 * T_READ)))
    g_final = np.maximum(g_drift + np.abs(g_drift) * sigma * rng.standard_normal(DEVICES), 0.0)
    return {"after_programming": moments(g_prog), "at_t": moments(g_final), "nu": moments(nu)}


def main():
    rng = np.random.default_rng(20250101)
    out = {}
    for g_hat in G_HATS:
        out[str(g_hat)] = {str(int(t)): characterize(g_hat, t, rng) for t in TIMES}
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
