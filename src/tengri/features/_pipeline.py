"""FeaturePipeline: raw features scaled by a scaler fitted on training rows only, saved as plain JSON.

Scaling
-------
``"robust"`` (the default) centres each feature on its training median and divides by its
training interquartile range (scikit-learn's ``RobustScaler``); returns and volume z-scores are
fat-tailed, and a few extreme bars should not set everyone's scale. ``"standard"`` uses the
training mean and standard deviation (``StandardScaler``). A feature whose training spread is 0
keeps scale 1. scikit-learn fits; the fitted centre and scale are kept as plain lists, and
:meth:`FeaturePipeline.transform` applies ``(x − centre) / scale`` itself, so the state round-trips
through JSON without pickle and gives bit-identical output.

Warm-up rows are dropped
------------------------
:meth:`FeaturePipeline.transform` returns only complete rows. From bars, the first
:attr:`FeaturePipeline.warmup_bars` rows (NaN features) are dropped; from a feature frame, the
leading rows with any NaN. The index says which bars the remaining float32 rows belong to. A
non-finite value after the warm-up is an error, never silently dropped or filled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, Literal, Self, get_args

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tengri.data import OHLCV_COLUMNS
from tengri.errors import DataValidationError, InvalidInputError
from tengri.features._compute import (
    DEFAULT_HIGHER_FACTORS,
    compute_features,
    feature_names,
    normalise_factors,
    warmup_bars,
)

__all__ = ["FeaturePipeline", "ScalerKind"]

ScalerKind = Literal["robust", "standard"]
"""The scalers a :class:`FeaturePipeline` can fit."""

_FORMAT: Final = "tengri.features.FeaturePipeline"
_VERSION: Final = 1


class FeaturePipeline:
    """Compute, scale and serialise the features of OHLCV bars.

    Parameters
    ----------
    higher_factors
        Higher timeframes as multiples of the input's bar (see :func:`compute_features`).
    scaler
        ``"robust"`` (median / IQR) or ``"standard"`` (mean / std); see the module docstring.
    clip
        If given, scaled values are clipped to ``[-clip, clip]``; ``None`` (the default) keeps them.

    Examples
    --------
    >>> from tengri.data import load_ohlcv
    >>> bars = load_ohlcv("sample:eurusd_h1")
    >>> pipeline = FeaturePipeline().fit(bars, train_end=bars.index[3999])
    >>> matrix = pipeline.transform(bars)
    >>> matrix.shape, str(matrix.dtypes.iloc[0]), matrix.index[0] == bars.index[pipeline.warmup_bars]
    ((4185, 51), 'float32', True)
    """

    def __init__(
        self,
        higher_factors: Sequence[int] = DEFAULT_HIGHER_FACTORS,
        *,
        scaler: ScalerKind = "robust",
        clip: float | None = None,
    ) -> None:
        if scaler not in get_args(ScalerKind):
            raise InvalidInputError(f"FeaturePipeline: scaler must be 'robust' or 'standard', got {scaler!r}")
        if clip is not None and not (isinstance(clip, int | float) and np.isfinite(clip) and clip > 0):
            raise InvalidInputError(f"FeaturePipeline: clip must be a positive number or None, got {clip!r}")
        self.higher_factors: tuple[int, ...] = normalise_factors(higher_factors)
        self.scaler: ScalerKind = scaler
        self.clip: float | None = None if clip is None else float(clip)
        self._names = feature_names(self.higher_factors)
        self._center: NDArray[np.float64] | None = None
        self._scale: NDArray[np.float64] | None = None
        self._train_rows = 0

    @property
    def feature_names(self) -> list[str]:
        """The feature columns, in the order of the scaled matrix."""
        return list(self._names)

    @property
    def warmup_bars(self) -> int:
        """How many leading input bars have NaN features (dropped by :meth:`transform`)."""
        return warmup_bars(self.higher_factors)

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_dict` with a fitted state) has set the scaler."""
        return self._center is not None

    def compute(self, ohlcv: pd.DataFrame) -> pd.DataFrame:
        """Return the raw features of ``ohlcv`` with this pipeline's factors (:func:`compute_features`)."""
        return compute_features(ohlcv, higher_factors=self.higher_factors)

    def fit(
        self, ohlcv_or_features: pd.DataFrame, train_end: pd.Timestamp | dt.datetime | str | None = None
    ) -> Self:
        """Fit the scaler on the complete rows up to ``train_end``.

        Parameters
        ----------
        ohlcv_or_features
            Validated OHLCV bars, or the output of :meth:`compute` (recognised by its columns).
        train_end
            Last training bar's timestamp, inclusive (naive means UTC); ``None`` uses every row.
            Only rows up to it affect the fitted parameters; warm-up rows are excluded.

        Returns
        -------
        FeaturePipeline
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            If no complete row lies at or before ``train_end``.
        DataValidationError
            If the input is neither bars nor this pipeline's features, or a feature is NaN after
            the warm-up.
        """
        data = ohlcv_or_features
        if train_end is not None and isinstance(data, pd.DataFrame):
            # Cut first: nothing after train_end is even looked at. The features are causal, so
            # computing them on the cut bars gives the same training rows as on all bars.
            data = data.loc[data.index <= _utc(train_end)]
        features = self._complete_rows(self._features_of(data, caller="fit"), caller="fit", until=train_end)
        from sklearn.preprocessing import RobustScaler, StandardScaler

        values = features.to_numpy(dtype=np.float64)
        if self.scaler == "robust":
            robust = RobustScaler().fit(values)
            center, scale = robust.center_, robust.scale_
        else:
            standard = StandardScaler().fit(values)
            center, scale = standard.mean_, standard.scale_
        self._center = np.asarray(center, dtype=np.float64)
        self._scale = np.asarray(scale, dtype=np.float64)
        self._train_rows = len(features)
        return self

    def transform(self, ohlcv_or_features: pd.DataFrame) -> pd.DataFrame:
        """Return the scaled features of the complete rows as float32.

        Parameters
        ----------
        ohlcv_or_features
            Validated OHLCV bars (at least ``warmup_bars + 1``), or the output of :meth:`compute`.

        Returns
        -------
        pandas.DataFrame
            float32 columns :attr:`feature_names`, indexed by the timestamps of the input's bars
            from row :attr:`warmup_bars` on (warm-up rows dropped); every value finite.

        Raises
        ------
        InvalidInputError
            If the pipeline is not fitted, or there are too few bars.
        DataValidationError
            As for :meth:`fit`.
        """
        if self._center is None or self._scale is None:
            raise InvalidInputError("FeaturePipeline.transform: call fit (or from_dict) first")
        features = self._complete_rows(
            self._features_of(ohlcv_or_features, caller="transform"), caller="transform"
        )
        scaled = (features.to_numpy(dtype=np.float64) - self._center) / self._scale
        if self.clip is not None:
            scaled = np.clip(scaled, -self.clip, self.clip)
        return pd.DataFrame(scaled.astype(np.float32), index=features.index, columns=self.feature_names)

    def to_dict(self) -> dict[str, Any]:
        """Return the pipeline's settings and fitted scaler as a JSON-serialisable dict.

        Floats are stored as Python floats, which JSON round-trips exactly.
        """
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "higher_factors": list(self.higher_factors),
            "scaler": self.scaler,
            "clip": self.clip,
            "feature_names": self.feature_names,
            "warmup_bars": self.warmup_bars,
            "train_rows": self._train_rows,
            "center": None if self._center is None else self._center.tolist(),
            "scale": None if self._scale is None else self._scale.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeaturePipeline:
        """Rebuild a pipeline from :meth:`to_dict`'s output.

        Raises
        ------
        InvalidInputError
            If the state is of another format or version, or its names or parameters do not fit
            its settings.
        """
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise InvalidInputError(f"FeaturePipeline.from_dict: not a {_FORMAT} state")
        if state.get("version") != _VERSION:
            raise InvalidInputError(
                f"FeaturePipeline.from_dict: version {state.get('version')!r} is not supported "
                f"(expected {_VERSION})"
            )
        try:
            pipeline = cls(state["higher_factors"], scaler=state["scaler"], clip=state["clip"])
            names, center, scale = state["feature_names"], state["center"], state["scale"]
            train_rows = int(state["train_rows"])
        except KeyError as error:
            raise InvalidInputError(f"FeaturePipeline.from_dict: missing key {error}") from error
        if names != pipeline.feature_names:
            raise InvalidInputError(
                "FeaturePipeline.from_dict: feature_names do not match this version's features "
                "for these higher_factors"
            )
        if (center is None) != (scale is None):
            raise InvalidInputError(
                "FeaturePipeline.from_dict: center and scale must both be set or both null"
            )
        if center is not None:
            center_array = np.asarray(center, dtype=np.float64)
            scale_array = np.asarray(scale, dtype=np.float64)
            shape = (len(names),)
            if center_array.shape != shape or scale_array.shape != shape:
                raise InvalidInputError(
                    f"FeaturePipeline.from_dict: center and scale need {len(names)} values each"
                )
            if not (
                np.isfinite(center_array).all() and np.isfinite(scale_array).all() and (scale_array > 0).all()
            ):
                raise InvalidInputError(
                    "FeaturePipeline.from_dict: center must be finite, scale finite and > 0"
                )
            pipeline._center, pipeline._scale = center_array, scale_array
            pipeline._train_rows = train_rows
        return pipeline

    def __repr__(self) -> str:
        fitted = f"fitted on {self._train_rows} rows" if self.is_fitted else "not fitted"
        return (
            f"FeaturePipeline(higher_factors={self.higher_factors}, scaler={self.scaler!r}, "
            f"clip={self.clip}; {fitted})"
        )

    def _features_of(self, data: pd.DataFrame, *, caller: str) -> pd.DataFrame:
        """Return raw features: computed from bars, or checked and reordered when given."""
        if isinstance(data, pd.DataFrame) and all(name in data.columns for name in OHLCV_COLUMNS):
            return self.compute(data)
        if isinstance(data, pd.DataFrame) and all(name in data.columns for name in self._names):
            return data.loc[:, self._names].astype(np.float64)
        raise DataValidationError(
            f"FeaturePipeline.{caller}: expected OHLCV bars ({', '.join(OHLCV_COLUMNS)}) or this "
            f"pipeline's {len(self._names)} feature columns"
        )

    def _complete_rows(self, features: pd.DataFrame, *, caller: str, until: object = None) -> pd.DataFrame:
        """Drop the leading warm-up rows (any NaN); fail if a value after them is not finite."""
        finite = np.isfinite(features.to_numpy(dtype=np.float64))
        complete = finite.all(axis=1)
        if not complete.any():
            window = "" if until is None else f" up to train_end={until}"
            raise InvalidInputError(
                f"FeaturePipeline.{caller}: no complete row in {len(features)} rows{window}; too few "
                f"bars for the {self.warmup_bars}-bar warm-up"
            )
        first = int(np.argmax(complete))
        if not complete[first:].all():
            row = first + int(np.argmin(complete[first:]))
            column = self._names[int(np.argmin(finite[row]))]
            raise DataValidationError(
                f"FeaturePipeline.{caller}: feature {column} is not finite at "
                f"{features.index[row].isoformat()}, after the warm-up",
                column=column,
            )
        return features.iloc[first:]


def _utc(moment: pd.Timestamp | dt.datetime | str) -> pd.Timestamp:
    """Return ``moment`` as a UTC timestamp (naive means UTC)."""
    try:
        stamp = pd.Timestamp(moment)
    except ValueError as error:
        raise InvalidInputError(f"train_end {moment!r} is not a timestamp") from error
    if pd.isna(stamp):
        raise InvalidInputError("train_end must not be NaT")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
