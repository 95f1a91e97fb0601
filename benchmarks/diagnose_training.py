"""Why does a variant end constant? Calibration slopes, raw output spread, LIF spike rates, QLSTM gradients.

Run: ``.venv/bin/python benchmarks/diagnose_training.py [DATA] [--models a,b]`` (issue 20).

For each model and each of ``evaluate --quick``'s two folds (fit on the first 50% / 75% of the
bars, 3 epochs, width 16; the QLSTM on the 700 bars before the cut, 2 epochs) it prints the
training and validation loss per epoch, the fitted Platt slope (0 means every calibrated
probability is exactly 0.5), the number of validation bars it was fitted on, and the standard
deviation of the raw and the calibrated up-probability on the test block. Then the spike rate of
``lstm+lif``'s LIF units (share of bars with the membrane over the threshold) and the gradient
norms per parameter of one 120-bar window of the predictor's loss, for the QLSTM and the LSTM.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from tengri.config import TengriConfig
from tengri.data import read_ohlcv
from tengri.features import next_return
from tengri.predict import LSTMTradingPredictor, PredictorSettings


def _settings(config: TengriConfig, name: str, epochs: int) -> PredictorSettings:
    base = PredictorSettings.from_config(config, name)
    return PredictorSettings(
        model=base.model, variant=name, epochs=epochs, patience=2, torch_threads=1
    ).with_model(hidden_size=16, num_heads=4, seed=config.seed)


def _folds(config: TengriConfig, bars: pd.DataFrame, names: list[str]) -> None:
    n = len(bars)
    for name in names:
        quantum = name == "qlstm"
        for cut, end in ((0.5, 0.75), (0.75, 1.0)):
            start, stop = int(n * cut), int(n * end) - 1
            begin = max(0, start - 700) if quantum else 0
            predictor = LSTMTradingPredictor(settings=_settings(config, name, 2 if quantum else 3))
            predictor.fit(bars.iloc[begin:start])
            test = predictor.predict(bars.iloc[begin:stop]).iloc[-(stop - start - 1) :]
            history = predictor.history
            print(
                f"{name:16s} fit to {cut:.0%}: train {np.round(history.train_loss, 3).tolist()} "
                f"validation {np.round(history.validation_loss, 3).tolist()}; slope "
                f"{predictor.calibrator.slope:.3f} on {int(predictor.metrics['validation_bars'])} bars; "
                f"test std raw {test['prob_up_raw'].std():.4f}, calibrated {test['prob_up'].std():.4f}"
            )


def _spike_rates(config: TengriConfig, bars: pd.DataFrame) -> None:
    start = len(bars) // 2
    predictor = LSTMTradingPredictor(settings=_settings(config, "lstm+lif", 3)).fit(bars.iloc[:start])
    network, pipeline = predictor._fitted()
    rows = torch.tensor(predictor._by_timeframe(pipeline.transform(bars.iloc[:start]).to_numpy()))
    state, membranes = network.init_state(1), []
    with torch.no_grad():
        for t in range(rows.shape[0]):
            _, state = network.step(rows[t : t + 1], state)
            membranes.append(state.membrane.clone())
    membrane = torch.cat(membranes)
    rate = (membrane > network.lif.threshold).double().mean(0)
    never, always = int((rate == 0).sum()), int((rate == 1).sum())
    print(
        f"lstm+lif spikes: mean rate {float(rate.mean()):.3f}; {never} of {rate.numel()} units never "
        f"spike, {always} always; |membrane| mean {float(membrane.abs().mean()):.3f}"
    )


def _gradients(config: TengriConfig, bars: pd.DataFrame) -> None:
    start = len(bars) // 2
    window = bars.iloc[start - 700 : start]
    for name in ("qlstm", "lstm"):
        predictor = LSTMTradingPredictor(settings=_settings(config, name, 1)).fit(window)
        network, pipeline = predictor._fitted()
        rows = torch.tensor(predictor._by_timeframe(pipeline.transform(window).to_numpy()))
        returns = np.nan_to_num(next_return(window, 1).to_numpy()[pipeline.warmup_bars :])[:120]
        network.train()
        state, logits, predicted = network.init_state(1), [], []
        for t in range(120):
            output, state = network.step(rows[t : t + 1], state)
            logits.append(output.prob_up_logit)
            predicted.append(output.predicted_return)
        up = torch.tensor((returns > 0).astype(np.float32))
        target = torch.tensor((returns / returns.std()).astype(np.float32))
        logit = torch.stack(logits).squeeze()
        loss = F.binary_cross_entropy_with_logits(logit, up) + F.mse_loss(
            torch.stack(predicted).squeeze(), target
        )
        network.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        norms = {k: float(p.grad.norm()) for k, p in network.named_parameters() if p.grad is not None}
        total = float(np.sqrt(sum(v * v for v in norms.values())))
        largest = ", ".join(f"{k} {v:.1e}" for k, v in sorted(norms.items(), key=lambda kv: -kv[1])[:4])
        print(
            f"{name} gradient norm {total:.2e} ({largest}); raw logit std {float(logit.detach().std()):.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", default="sample:goog_d1")
    parser.add_argument("--models", default="lstm,lstm+lif,lstm+attention,enhanced,qlstm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TengriConfig()
    bars = read_ohlcv(args.data).frame
    print(f"data {args.data}: {len(bars)} bars")
    _folds(config, bars, args.models.split(","))
    _spike_rates(config, bars)
    _gradients(config, bars)


if __name__ == "__main__":
    main()
