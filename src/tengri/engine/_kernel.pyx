# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The engine's compiled core: what every tick repeats, in C.

- The pattern encoder and the next-move statistics: every tick of every symbol pushes a price
  through :class:`PatternEncoder` and folds the previous code's move into two
  :class:`PatternTable`\\ s. Written in Python those were about a sixth of a replay's time. Here
  they are C loops over fixed arrays, with the arithmetic of the Python version operation for
  operation (the build turns off floating-point contraction, so no fused multiply-add changes a
  rounding): hashes, cursors and statistics are bit for bit what they were.
- Each tick's trigger work (:class:`TriggerCore`, the base of ``HashTriggerEngine``): learning
  the previous code's move, waking sleepers, matching (:func:`match`).
- A strategy's history (:class:`StrategyCore`, the base of ``Strategy``): the append of each bar,
  ``len`` and ``sma``, with the :class:`RollingMean`\\ s that sum as pandas does. The user's
  ``next`` stays Python.
- The account's per-tick sums (:class:`AccountCore`, the base of ``Account``), the risk guard's
  per-tick mark (:class:`RiskCore`, the base of ``RiskGuard``), the common tick's validation
  (:func:`quick_tick`) and the unit of work a tick enters (:class:`UnitOfWork`).
- The profit window's cubic fit, its ``push`` and ``solve`` (:class:`CubicCore`, the base of
  ``IncrementalCubicFit``), run at every close.
- A replay's per-bar output: the timeline's engine columns (:class:`TimelineBlock`) and the ISO
  8601 form of whole-second times (:func:`iso_seconds`, :func:`iso_list`).

The Python classes extend these C classes: what each tick touches lives in C fields, everything
else (registration, booking, the store, the user's code) stays Python. Compiling the Python
modules as they are bought nothing measurable (``benchmarks/bench_scale.py`` says why).

A replay's results are byte for byte what the Python gave. ``tengri.engine._kernel_reference``
keeps that Python for the arithmetic, the matching, the tick's test, the account's sums, the risk
mark and the cubic fit, which the tests hold this module to (the ISO times and the timeline block
are held to datetime and to the journal's rows); ``benchmarks/bench_kernel.py`` measures the
arithmetic against it and against Numba.

:mod:`tengri.engine.pattern_hash`, :mod:`tengri.engine.pattern_stats` and :mod:`tengri.engine.rolling`
document and re-export the encoder, the table and the means (import them from there); ``Strategy``,
``HashTriggerEngine``, ``Account``, ``RiskGuard``, ``IncrementalCubicFit``, ``validate_tick``, the
store's ``unit_of_work`` and the replay's journal build on the rest.
"""

from mmap import mmap

import numpy as np

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.math cimport INFINITY, NAN, atan2, fabs, floor, log, pow, sqrt
from libc.stdio cimport snprintf
from libc.string cimport memmove
from cpython.unicode cimport PyUnicode_DecodeASCII

from tengri.errors import InvalidInputError

cdef enum:
    HASH_RETURNS = 8
    CODES = 65536

cdef double SIGMA_FLOOR = 1e-12
cdef double RAD_TO_DEG = 180.0 / 3.141592653589793  # CPython's math.degrees multiplies by this

# Resolved on first use: the modules that define them import this one.
cdef object _cursor_state = None
cdef object _pattern_stats = None


cdef object _cursor_type():
    global _cursor_state
    if _cursor_state is None:
        from tengri.engine.pattern_hash import CursorState
        _cursor_state = CursorState
    return _cursor_state


cdef class PatternEncoder:
    """Streaming pattern hash: feed prices one at a time, read the hash once 9 prices are in.

    Parameters
    ----------
    ewma_span
        Span of the EWMA volatility (``a = 2 / (span + 1)``).
    """

    cdef readonly int ewma_span
    cdef double _alpha
    cdef double _prices[HASH_RETURNS + 1]  # oldest first
    cdef double _returns[HASH_RETURNS]     # oldest first
    cdef int _n_prices
    cdef int _n_returns
    cdef double _variance
    cdef bint _has_variance

    def __init__(self, int ewma_span=20):
        if ewma_span < 1:
            raise ValueError("ewma_span must be at least 1")
        self.ewma_span = ewma_span
        self._alpha = 2.0 / (ewma_span + 1.0)
        self._n_prices = 0
        self._n_returns = 0
        self._has_variance = False
        self._variance = 0.0

    @property
    def ready(self):
        """Whether 9 prices have been seen, so that a hash exists."""
        return self._n_prices == HASH_RETURNS + 1

    @property
    def sigma(self):
        """The current EWMA return volatility (0 before the first return)."""
        return sqrt(self._variance) if self._has_variance else 0.0

    cdef inline void _push(self, double price):
        cdef double r, r2
        cdef int i
        if self._n_prices:
            r = log(price / self._prices[self._n_prices - 1])
            if self._n_returns == HASH_RETURNS:
                for i in range(HASH_RETURNS - 1):
                    self._returns[i] = self._returns[i + 1]
                self._returns[HASH_RETURNS - 1] = r
            else:
                self._returns[self._n_returns] = r
                self._n_returns += 1
            r2 = r * r
            if self._has_variance:
                self._variance = (1 - self._alpha) * self._variance + self._alpha * r2
            else:
                self._variance = r2
                self._has_variance = True
        if self._n_prices == HASH_RETURNS + 1:
            for i in range(HASH_RETURNS):
                self._prices[i] = self._prices[i + 1]
            self._prices[HASH_RETURNS] = price
        else:
            self._prices[self._n_prices] = price
            self._n_prices += 1

    cdef object _current(self, double timestamp):
        cdef double sigma = sqrt(self._variance) if self._has_variance else 0.0
        cdef double s = sigma if sigma > SIGMA_FLOOR else SIGMA_FLOOR
        cdef long value = 0
        cdef int code, i, delta_idx
        cdef double r, p0, p1, p2, sigma_price, angle
        for i in range(self._n_returns):  # oldest first: each newer code shifts the older ones up
            r = self._returns[i]
            if r <= 0.0:
                code = 0 if r <= -s else 1
            else:
                code = 2 if r < s else 3
            value = ((value << 2) | code) & 0xFFFF
        p0 = self._prices[HASH_RETURNS - 2]
        p1 = self._prices[HASH_RETURNS - 1]
        p2 = self._prices[HASH_RETURNS]
        sigma_price = s * p2
        # For prices near the float minimum σ·p underflows to 0: a flat angle, not a division error.
        angle = atan2((p2 - p1) / sigma_price, 1.0) * RAD_TO_DEG if sigma_price > 0 else 0.0
        delta_idx = 0 if fabs(p1 - p0) > fabs(p2 - p1) else 1
        # tuple.__new__: the named tuple without its Python __new__ (a call per tick).
        return value, tuple.__new__(_cursor_type(), ((p0, p1, p2), delta_idx, angle, timestamp))

    def push(self, double price):
        """Add the next price (validated by the caller: finite and positive)."""
        self._push(price)

    def current(self, double timestamp):
        """Return ``(hash, cursor)`` for the prices seen so far.

        Raises
        ------
        InvalidInputError
            If fewer than 9 prices have been seen.
        """
        if self._n_prices != HASH_RETURNS + 1:
            raise InvalidInputError(
                f"a pattern hash needs {HASH_RETURNS + 1} prices, have {self._n_prices}"
            )
        return self._current(timestamp)

    def update(self, double price, double timestamp):
        """:meth:`push` the price, then return :meth:`current` at ``timestamp``, or None before 9 prices."""
        self._push(price)
        if self._n_prices != HASH_RETURNS + 1:
            return None
        return self._current(timestamp)

    def snapshot(self):
        """Return the encoder's state as JSON-ready data."""
        return {
            "ewma_span": self.ewma_span,
            "prices": [self._prices[i] for i in range(self._n_prices)],
            "returns": [self._returns[i] for i in range(self._n_returns)],
            "variance": self._variance if self._has_variance else None,
        }

    @classmethod
    def from_snapshot(cls, data):
        """Rebuild an encoder from :meth:`snapshot` output (the newest 9 prices and 8 returns kept)."""
        cdef PatternEncoder encoder = cls(int(data["ewma_span"]))
        prices = [float(p) for p in data["prices"]][-(HASH_RETURNS + 1):]
        returns = [float(r) for r in data["returns"]][-HASH_RETURNS:]
        for i, p in enumerate(prices):
            encoder._prices[i] = p
        encoder._n_prices = len(prices)
        for i, r in enumerate(returns):
            encoder._returns[i] = r
        encoder._n_returns = len(returns)
        if data["variance"] is not None:
            encoder._variance = float(data["variance"])
            encoder._has_variance = True
        return encoder


cdef inline double _t_stat(double count, double mean, double m2):
    cdef double variance
    if count < 2:
        return 0.0
    variance = m2 / (count - 1)
    if variance <= 0.0:
        return 0.0
    return mean / sqrt(variance / count)


cdef inline int _checked(long code) except -1:
    if code < 0 or code >= CODES:
        raise IndexError(f"code must be in [0, {CODES - 1}], got {code}")
    return <int>code


cdef class PatternTable:
    """Next-move statistics of every 16-bit code (counts are exact in a double up to 2⁵³)."""

    cdef object _count_array
    cdef object _mean_array
    cdef object _m2_array
    cdef object _changed_array
    cdef double[::1] _count
    cdef double[::1] _mean
    cdef double[::1] _m2
    cdef unsigned char[::1] _changed  # 1 for a code changed since :meth:`changed` was last cleared
    cdef Py_ssize_t _seen

    def __init__(self):
        # Fresh anonymous pages, which the kernel zeroes when first touched: a new engine's two
        # tables would otherwise write 3 MB of zeros (the allocator reuses freed memory, which
        # calloc must clear), most of a millisecond of its startup.
        columns = np.frombuffer(mmap(-1, 3 * 8 * CODES), dtype=np.float64).reshape(3, CODES)
        self._count_array, self._mean_array, self._m2_array = columns
        self._changed_array = np.frombuffer(mmap(-1, CODES), dtype=np.uint8)
        self._changed = self._changed_array
        self._count = self._count_array
        self._mean = self._mean_array
        self._m2 = self._m2_array
        self._seen = 0

    def __len__(self):
        """The number of codes seen at least once."""
        return self._seen

    cdef inline double _fold(self, int c, double x):
        cdef double n = self._count[c] + 1.0
        cdef double mean, delta
        self._count[c] = n
        if n == 1.0:
            self._seen += 1
        mean = self._mean[c]
        delta = x - mean
        mean += delta / n
        self._mean[c] = mean
        self._m2[c] += delta * (x - mean)
        self._changed[c] = 1
        return n

    def add(self, long code, double x):
        """Fold the move ``x`` into ``code``'s statistics; return its new count."""
        return self._fold(_checked(code), x)

    def get(self, long code):
        """The statistics of ``code`` (a copy; zero counts for a code never seen)."""
        global _pattern_stats
        cdef int c = _checked(code)
        if _pattern_stats is None:
            from tengri.engine.pattern_stats import PatternStats
            _pattern_stats = PatternStats
        return _pattern_stats(int(self._count[c]), self._mean[c], self._m2[c])

    def t_stat(self, long code):
        """t statistic of ``code``'s mean next move against zero (0 when undefined)."""
        cdef int c = _checked(code)
        return _t_stat(self._count[c], self._mean[c], self._m2[c])

    def set(self, long code, stats):
        """Replace the statistics of ``code`` (a count of 0 forgets it)."""
        cdef int c
        cdef long count
        if not 0 <= code < CODES:
            raise ValueError(f"code must be in [0, {CODES - 1}], got {code}")
        c = <int>code
        count = stats.count
        self._seen += (count > 0) - (self._count[c] > 0)
        self._count[c] = <double>count
        self._mean[c] = stats.mean if count else 0.0
        self._m2[c] = stats.m2 if count else 0.0
        self._changed[c] = 1

    def items(self):
        """The codes seen, in code order, with their statistics."""
        for code in np.flatnonzero(np.frombuffer(self._count_array, dtype=np.float64)).tolist():
            yield code, self.get(code)

    def columns(self):
        """The count, mean and m2 arrays as float64 NumPy views indexed by code (not copies)."""
        return (
            np.frombuffer(self._count_array, dtype=np.float64),
            np.frombuffer(self._mean_array, dtype=np.float64),
            np.frombuffer(self._m2_array, dtype=np.float64),
        )

    def changed(self):
        """A uint8 NumPy view indexed by code (not a copy): 1 where a code changed since it was cleared.

        :meth:`add`, :meth:`set` and :func:`learn` set it; the owner clears it once it has saved
        the changes (:meth:`tengri.engine.pattern_stats.PatternTable.take_changes`).
        """
        return np.frombuffer(self._changed_array, dtype=np.uint8)

    def _restore(self, codes, counts, means, m2s):
        """Set the given codes' columns (validated by the caller) and recount the codes seen."""
        count, mean, m2 = self.columns()
        count[codes] = counts
        mean[codes] = means
        m2[codes] = m2s
        self._seen = int(np.count_nonzero(count))


def learn(PatternTable codes, PatternTable masked, long code, long mask, double move, double min_count):
    """Fold ``move`` into ``code``'s statistics in ``codes`` and ``code & mask``'s in ``masked``.

    Returns the masked code's t statistic once it has ``min_count`` moves, else 0.0: what decides
    whether the masked code becomes a trigger (:meth:`HashTriggerEngine._learn`), in one call.
    """
    cdef int c = _checked(code)
    cdef int m = _checked(code & mask)
    codes._fold(c, move)
    if masked._fold(m, move) < min_count:
        return 0.0
    return _t_stat(masked._count[m], masked._mean[m], masked._m2[m])


cdef object _tick_class = None


cdef inline bint _price(object value):
    """``value`` is a float in (0, inf): a bar's price."""
    return type(value) is float and 0.0 < <double>value < INFINITY


def quick_tick(price, timestamp, volume, symbol, open, high, low, index, allowed_symbols, last_time):
    """The common tick, accepted with comparisons only, as a ``Tick``; None for any other.

    :func:`tengri.engine.tick_input.validate_tick`'s first test (see there): every number a float
    in range (NaN fails every comparison), a known symbol, time not going back.
    """
    global _tick_class
    if not (
        _price(price)
        and type(timestamp) is float
        and -INFINITY < <double>timestamp < INFINITY
        and type(symbol) is str
        and 0 < len(<str>symbol) <= 64
        and (volume is None or (type(volume) is float and 0.0 <= <double>volume < INFINITY))
        and (open is None or _price(open))
        and (high is None or _price(high))
        and (low is None or _price(low))
        and (not allowed_symbols or symbol in allowed_symbols)
    ):
        return None
    last = last_time.get(symbol)
    if last is not None and not timestamp >= last:
        return None
    if _tick_class is None:
        from tengri.engine.signals import Tick
        _tick_class = Tick
    return tuple.__new__(_tick_class, (symbol, timestamp, price, index, volume, open, high, low))


def match(dict by_mask, long hash_value, tuple firing):
    """The ids of the triggers ``hash_value`` fires, each trigger's ``fired`` count raised by one.

    ``by_mask`` maps a mask to its masked patterns, and each of those to its triggers
    (:class:`HashTriggerEngine`'s index); a trigger fires when ``hash_value & mask`` is its masked
    pattern and its state is one of ``firing``. The ids come in the order the index holds them:
    masks in insertion order, then each pattern's triggers in registration order.
    """
    cdef list fired = []
    cdef object matches, trigger
    for mask, bucket in by_mask.items():
        matches = (<dict>bucket).get(hash_value & <long>mask)
        if matches:
            for trigger in <list>matches:
                if trigger.state in firing:
                    trigger.fired += 1
                    fired.append(trigger.trigger_id)
    return fired


cdef class UnitOfWork:
    """The context manager ``StoreBase.unit_of_work`` returns (see there): every tick enters one.

    Entering adds one to the thread's nesting depth (the store's ``_unit``, a thread-local);
    leaving puts back the depth it found and, at the outermost, ends the unit (``_end_unit``:
    the commit, or :class:`~tengri.errors.UnitOfWorkLostError`).
    """

    cdef object _store
    cdef object _depth

    def __cinit__(self, store):
        self._store = store
        self._depth = 0

    def __enter__(self):
        unit = self._store._unit
        depth = unit.depth
        self._depth = depth
        unit.depth = depth + 1

    def __exit__(self, *exc):
        self._store._unit.depth = self._depth
        if self._depth == 0:
            self._store._end_unit()


cdef class RiskCore:
    """The risk guard's watch of the account's equity, compiled: the base of ``RiskGuard``.

    :meth:`mark` runs every tick; see :mod:`tengri.engine.risk` for the limits. The state it
    keeps (the peak, the UTC day and its starting equity, the last equity, the day a loss limit
    blocked) reads as the Python it replaced kept it: a float (an int for a day), or None
    before the first mark. The subclass counts and logs a limit's hit (``_daily_limit_hit``,
    ``_drawdown_hit``).
    """

    cdef double _peak, _day, _day_start, _last_equity, _blocked_day
    cdef bint _has_peak, _has_day, _has_day_start, _has_last_equity, _has_blocked_day
    cdef public object killed_at
    cdef object _seen_config  # the config whose two limits are cached below
    cdef double _daily_pct, _drawdown_pct
    cdef bint _has_daily, _has_drawdown

    def __cinit__(self, *args, **kwargs):
        self.killed_at = None

    cdef void _limits_of(self, config):
        daily = config.max_daily_loss_pct
        drawdown = config.max_drawdown_pct
        self._has_daily = daily is not None
        self._daily_pct = daily if daily is not None else 0.0
        self._has_drawdown = drawdown is not None
        self._drawdown_pct = drawdown if drawdown is not None else 0.0
        self._seen_config = config

    def mark(self, double equity, double timestamp, index):
        """Take the account's equity after a tick; return True when the kill switch trips now."""
        cdef double day = floor(timestamp / 86400.0)
        config = self.config
        if config is not self._seen_config:
            self._limits_of(config)
        if not self._has_day or day != self._day:
            self._day, self._has_day = day, True
            self._day_start = self._last_equity if self._has_last_equity else equity
            self._has_day_start = True
        self._last_equity, self._has_last_equity = equity, True
        if (
            self._has_daily
            and not (self._has_blocked_day and self._blocked_day == day)
            and self._day_start > 0
            and equity <= self._day_start * (1.0 - self._daily_pct / 100.0)
        ):
            self._blocked_day, self._has_blocked_day = day, True
            self._daily_limit_hit(index, equity, self._day_start)
        if not self._has_peak or equity > self._peak:  # max(peak, equity)
            self._peak, self._has_peak = equity, True
        if (
            self._has_drawdown
            and self.killed_at is None
            and self._peak > 0
            and equity <= self._peak * (1.0 - self._drawdown_pct / 100.0)
        ):
            self.killed_at = index
            self._drawdown_hit(index, equity, self._peak)
            return True
        return False

    def blocked_on(self, double timestamp):
        """Whether a day's loss limit blocks entries at ``timestamp`` (its UTC day is the blocked one)."""
        return self._has_blocked_day and floor(timestamp / 86400.0) == self._blocked_day

    @property
    def peak(self):
        return self._peak if self._has_peak else None

    @peak.setter
    def peak(self, value):
        self._has_peak = value is not None
        self._peak = value if value is not None else 0.0

    @property
    def _day_number(self):
        return int(self._day) if self._has_day else None

    @_day_number.setter
    def _day_number(self, value):
        self._has_day = value is not None
        self._day = value if value is not None else 0.0

    @property
    def _blocked_day_number(self):
        return int(self._blocked_day) if self._has_blocked_day else None

    @_blocked_day_number.setter
    def _blocked_day_number(self, value):
        self._has_blocked_day = value is not None
        self._blocked_day = value if value is not None else 0.0

    @property
    def _day_start_equity(self):
        return self._day_start if self._has_day_start else None

    @_day_start_equity.setter
    def _day_start_equity(self, value):
        self._has_day_start = value is not None
        self._day_start = value if value is not None else 0.0

    @property
    def _last_equity_seen(self):
        return self._last_equity if self._has_last_equity else None

    @_last_equity_seen.setter
    def _last_equity_seen(self, value):
        self._has_last_equity = value is not None
        self._last_equity = value if value is not None else 0.0


cdef class AccountCore:
    """The account's ledger and what every tick reads of it, compiled: the base of ``Account``.

    ``tengri.engine.account.Account`` documents the ledger and owns the rest (booking, restoring,
    exposure). Here: marking a tick, equity, and a symbol's position and profit, each the same
    additions in the same order as the Python they replaced (``_kernel_reference``), so equal to
    the bit; a sum over no position is the int 0 there was.
    """

    cdef public double initial_cash
    cdef public dict positions  # execution id -> open position
    cdef public dict marks  # symbol -> last price
    cdef public dict bars  # symbol -> ticks seen
    cdef public double realised
    cdef public dict realised_by_symbol
    cdef public long long closed_count

    def mark(self, symbol, price):
        """Take a tick of ``symbol`` at ``price``: its mark for the whole account; count its bar."""
        self.marks[symbol] = price
        self.bars[symbol] = self.bars.get(symbol, 0) + 1

    def equity(self, price=None, symbol=None):
        """Initial cash + realised profit + every open position marked to market, net of entry costs.

        With ``price``, ``symbol``'s positions are marked at it instead of their mark (a fill at
        the open); without ``symbol`` every position is.
        """
        cdef double marked = 0.0, entry
        if price is not None:
            return self._equity_at(price, symbol)
        marks = self.marks
        for p in self.positions.values():
            entry = p.entry_price
            marked += (
                <double>p.direction * (<double>marks.get(p.symbol, entry) - entry) * <double>p.size
                - <double>p.entry_costs
            )
        return self.initial_cash + self.realised + marked

    cdef tuple _symbol_sums(self, symbol):
        """``(Σ d·q, Σ marked)`` over ``symbol``'s positions, each the int 0 when it has none."""
        cdef double total = 0.0, marked = 0.0, entry, at
        cdef bint any_position = False
        mark = self.marks.get(symbol)
        for p in self.positions.values():
            if p.symbol == symbol:
                any_position = True
                total += <double>p.direction * <double>p.size
                entry = p.entry_price
                at = entry if mark is None else <double>mark
                marked += <double>p.direction * (at - entry) * <double>p.size - <double>p.entry_costs
        if not any_position:
            return 0, 0
        return total, marked

    def position(self, symbol):
        """The symbol's net position in units, ``Σ d·q`` (0 when flat)."""
        return self._symbol_sums(symbol)[0]

    def symbol_pnl(self, symbol):
        """The symbol's realised profit plus its open positions marked net of their entry costs."""
        return self.realised_by_symbol.get(symbol, 0.0) + self._symbol_sums(symbol)[1]

    def holding(self, symbol):
        """:meth:`position` and :meth:`symbol_pnl` of ``symbol`` in one pass (a bar's timeline needs both)."""
        total, marked = self._symbol_sums(symbol)
        return total, self.realised_by_symbol.get(symbol, 0.0) + marked


cdef class TriggerCore:
    """What a :class:`~tengri.engine.triggers.HashTriggerEngine` does with every tick, compiled.

    The base of ``HashTriggerEngine``, which documents the behaviour and owns everything else
    (registration, outcomes, the store); here is :meth:`process_hash` and the state it touches.
    """

    cdef public long long ticks  # hashes processed
    cdef public PatternTable _code_stats  # next-move statistics of full codes
    cdef public PatternTable _masked_stats  # and of masked ones
    cdef public dict _by_mask  # mask -> masked pattern -> triggers (see match)
    cdef public dict _sleepers  # id -> dormant trigger
    cdef public object _pending  # (hash, price) awaiting its next move, or None
    cdef public bint auto_register  # whether codes with a significant next move become triggers
    cdef public object _lock
    cdef long _mask
    cdef double _min_count
    cdef double _threshold
    cdef tuple _firing

    def _configure(self, long mask, double min_count, double threshold, tuple firing):
        """The learning's mask, minimum count and t statistic; the trigger states that fire."""
        self._mask, self._min_count, self._threshold, self._firing = mask, min_count, threshold, firing

    def process_hash(self, hash_value, cursor_state):
        """Feed one tick's hash: learn the previous code's next move, wake sleepers, fire matches.

        Returns the ids of the triggers that fired, in registration order (see :func:`match`).
        """
        cdef double t_stat
        if not (0 <= hash_value <= 0xFFFF):
            raise InvalidInputError(f"hash_value must be a 16-bit integer, got {hash_value!r}")
        price = cursor_state.triplet[2]
        with self._lock:
            self.ticks += 1
            pending = self._pending
            if pending is not None:
                previous, previous_price = pending
                if previous_price > 0 and price > 0:
                    # Both tables' Welford update, and the masked code's t statistic once it has
                    # enough moves; math.log is libm's log, as here.
                    t_stat = learn(
                        self._code_stats,
                        self._masked_stats,
                        previous,
                        self._mask,
                        log(<double>price / <double>previous_price),
                        self._min_count,
                    )
                    if self.auto_register and fabs(t_stat) > self._threshold:
                        self._auto_register(previous)
            self._pending = (hash_value, price)
            if self._sleepers:
                self._wake_sleepers()
            return match(self._by_mask, hash_value, self._firing)


cdef class RollingMean:
    """The means of a fixed window over a growing series, one per value, as pandas computes them.

    See :mod:`tengri.engine.rolling` for the summation (pandas' ``roll_mean``, with Kahan
    compensation for additions and for removals) that this follows operation for operation.
    """

    cdef readonly int period
    cdef Py_ssize_t _keep  # -1: every mean is kept
    cdef Py_ssize_t _seen
    cdef double _sum
    cdef double _added
    cdef double _removed
    cdef Py_ssize_t _negative
    cdef Py_ssize_t _same
    cdef double *_window  # a ring of the newest ``period`` values
    cdef Py_ssize_t _head  # where the oldest of them is, once the ring is full
    cdef double *_means
    cdef Py_ssize_t _n_means
    cdef Py_ssize_t _capacity

    def __cinit__(self, int period, keep=None):
        self._window = NULL
        self._means = NULL

    def __init__(self, int period, keep=None):
        """``keep``: the newest means :meth:`at` answers for (None: all of them)."""
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.period = period
        self._keep = -1 if keep is None else keep
        self._window = <double *>PyMem_Malloc(period * sizeof(double))
        self._capacity = 64
        self._means = <double *>PyMem_Malloc(self._capacity * sizeof(double))
        if self._window == NULL or self._means == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._window)
        PyMem_Free(self._means)

    cdef inline void _add(self, double value):
        cdef double y = value - self._added
        cdef double t = self._sum + y
        self._added = t - self._sum - y
        self._sum = t
        if value < 0:
            self._negative += 1

    cdef inline void _remove(self, double value):
        cdef double y = -value - self._removed
        cdef double t = self._sum + y
        self._removed = t - self._sum - y
        self._sum = t
        if value < 0:
            self._negative -= 1

    cdef inline double _mean(self, double newest):
        cdef int n = self.period
        cdef double result
        if self._same >= n:
            return newest
        result = self._sum / n
        if self._negative == 0 and result < 0:
            return 0.0
        if self._negative == n and result > 0:
            return 0.0
        return result

    cdef int _push(self, double value) except -1:
        cdef Py_ssize_t n = self._seen
        cdef int period = self.period
        cdef Py_ssize_t slot = n % period  # the ring's slot of this value (the leaving one's, once full)
        cdef double *grown
        if n >= period:  # pandas removes the leaving value before adding the new one
            self._remove(self._window[slot])
        self._add(value)
        if n and value == self._window[(n - 1) % period]:  # the same as the newest before it
            self._same += 1
        else:
            self._same = 1
        self._window[slot] = value
        if self._n_means == self._capacity:
            if self._keep >= 0 and self._n_means >= 2 * self._keep + 64:  # now and then: O(1) a value
                memmove(self._means, self._means + self._n_means - self._keep, self._keep * sizeof(double))
                self._n_means = self._keep
            else:
                grown = <double *>PyMem_Realloc(self._means, 2 * self._capacity * sizeof(double))
                if grown == NULL:
                    raise MemoryError()
                self._means = grown
                self._capacity *= 2
        self._means[self._n_means] = self._mean(value) if n + 1 >= period else NAN
        self._n_means += 1
        self._seen = n + 1
        return 0

    def push(self, double value):
        """Take the series' next value."""
        self._push(value)

    def extend(self, values):
        """Take the series' values past those already seen (``values`` is the whole series so far)."""
        for value in values[self._seen:]:
            self._push(value)

    def __reduce__(self):
        """Pickle (and ``copy.deepcopy``) by state: a strategy holding its averages can be copied."""
        window = [self._window[i] for i in range(min(self._seen, self.period))]
        means = [self._means[i] for i in range(self._n_means)]
        state = (self._seen, self._sum, self._added, self._removed, self._negative, self._same, window, means)
        return _rolling_mean, (self.period, None if self._keep < 0 else self._keep, state)

    def at(self, Py_ssize_t ago=0):
        """The mean of the window ending ``ago`` values back (NaN before the window is full or past keep)."""
        cdef Py_ssize_t index = self._n_means - 1 - ago
        if index < 0 or ago < 0 or (self._keep >= 0 and ago >= self._keep):
            return NAN
        return self._means[index]


def _rolling_mean(int period, keep, state):
    """A :class:`RollingMean` from :meth:`RollingMean.__reduce__`'s state."""
    cdef RollingMean rolling = RollingMean(period, keep)
    cdef double *grown
    seen, total, added, removed, negative, same, window, means = state
    rolling._seen, rolling._sum, rolling._added, rolling._removed = seen, total, added, removed
    rolling._negative, rolling._same = negative, same
    for i, value in enumerate(window):
        rolling._window[i] = value
    if len(means) > rolling._capacity:
        grown = <double *>PyMem_Realloc(rolling._means, len(means) * sizeof(double))
        if grown == NULL:
            raise MemoryError()
        rolling._means, rolling._capacity = grown, len(means)
    for i, value in enumerate(means):
        rolling._means[i] = value
    rolling._n_means = len(means)
    return rolling


cdef class StrategyCore:
    """The bars a :class:`tengri.engine.signals.Strategy` has seen, and the means it asked for.

    The base of ``Strategy``, which documents the behaviour; here is what runs with every tick:
    the append of a bar, ``len``, and ``sma``. The bars are five rows (open, high, low, close,
    volume) of one float64 array, columns ``[_start, _end)`` the kept ones: the newest
    ``history_bars`` (read from the strategy at each bar) or all. The array doubles when full,
    or, when the kept bars fill less than half of it, they move to its front.
    """

    cdef readonly object _data  # read-only to Python: tests look at its size
    cdef double[:, ::1] _view
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _n  # ticks seen
    cdef dict _rolling  # period -> RollingMean, the means sma was asked for
    cdef public object tick  # the newest tick

    def __cinit__(self, *args, **kwargs):
        self._allocate(1024)
        self.tick = None

    cdef void _allocate(self, Py_ssize_t capacity):
        self._capacity = capacity
        self._data = np.empty((5, capacity), dtype=np.float64)
        self._view = self._data
        self._n = 0
        self._start = 0
        self._end = 0
        self._rolling = {}

    def _forget(self):
        """Start the history afresh (and drop the old one's memory)."""
        self._allocate(1024)

    cdef Py_ssize_t _make_room(self) except -1:
        cdef Py_ssize_t start = self._start, kept = self._end - self._start, row
        cdef double[:, ::1] grown
        if start >= self._capacity // 2:  # history_bars set: move the newest bars down, in place
            for row in range(5):
                memmove(&self._view[row, 0], &self._view[row, start], kept * sizeof(double))
        else:
            data = np.empty((5, 2 * self._capacity), dtype=np.float64)
            grown = data
            grown[:, :kept] = self._view[:, start:self._end]
            self._data, self._view, self._capacity = data, grown, 2 * self._capacity
        self._start, self._end = 0, kept
        return kept

    def _append(self, tick):
        """Take the next tick (a :class:`~tengri.engine.signals.Tick`) into the history."""
        cdef tuple bar
        cdef Py_ssize_t end = self._end
        cdef double price
        if not isinstance(tick, tuple):
            raise TypeError(f"a strategy takes Tick objects, got {type(tick).__name__}")
        bar = <tuple>tick  # a Tick is a named tuple: symbol, timestamp, price, index, volume, open, high, low
        if end == self._capacity:
            end = self._make_room()
        value = bar[2]
        price = value
        value = bar[5]
        self._view[0, end] = price if value is None else <double>value
        value = bar[6]
        self._view[1, end] = price if value is None else <double>value
        value = bar[7]
        self._view[2, end] = price if value is None else <double>value
        self._view[3, end] = price
        value = bar[4]
        self._view[4, end] = 0.0 if value is None else <double>value
        end += 1
        self._end = end
        self._n += 1
        keep = self.history_bars
        if keep is not None and end - self._start > keep:
            self._start = end - <Py_ssize_t>keep
        self.tick = tick
        if self._rolling:  # the means asked for so far advance with each close
            for rolling in self._rolling.values():
                (<RollingMean>rolling)._push(price)

    def _column(self, Py_ssize_t row):
        """Row ``row`` of the kept bars (0 open, 1 high, 2 low, 3 close, 4 volume): a view."""
        return self._data[row, self._start:self._end]

    def __len__(self):
        """Ticks seen so far (the arrays hold the newest ``history_bars`` of them when it is set)."""
        return self._n

    def __bool__(self):
        """A strategy is truthy before its first tick too (``__len__`` counts ticks, not validity)."""
        return True

    def sma(self, period, ago=0):
        """Simple moving average of closes over ``period`` ticks ending ``ago`` ticks back.

        NaN before ``period + ago`` ticks, and with ``history_bars`` for a window reaching past them.
        """
        if period < 1 or ago < 0 or self._n - ago < period:
            return NAN
        keep = self.history_bars
        if keep is not None and period + ago > keep:
            return NAN
        # Summed as pandas' rolling mean sums (engine.rolling), so that ties fall where pandas' do.
        rolling = self._rolling.get(period)
        if rolling is None:  # the first ask for this period: its means over the closes kept
            rolling = self._rolling[period] = RollingMean(period, keep=keep)
            rolling.extend(self._column(3).tolist())  # the closes kept
        return rolling.at(ago)

    def __reduce__(self):
        """Pickle (and ``copy.deepcopy``) the history with the strategy's own attributes."""
        core = (self._capacity, self._start, self._end, self._n, self._data, self._rolling, self.tick)
        return _strategy, (type(self), core), getattr(self, "__dict__", None)


def _strategy(cls, core):
    """A strategy of class ``cls`` with the history :meth:`StrategyCore.__reduce__` took."""
    cdef StrategyCore strategy = cls.__new__(cls)
    capacity, start, end, n, data, rolling, tick = core
    strategy._capacity, strategy._start, strategy._end, strategy._n = capacity, start, end, n
    strategy._data = np.ascontiguousarray(data, dtype=np.float64)
    strategy._view = strategy._data
    strategy._rolling, strategy.tick = rolling, tick
    return strategy


# -- ISO 8601 times of whole seconds ---------------------------------------------------------------
# A replay writes each bar's time and each trade's two; datetime's fromtimestamp and isoformat cost
# some 1.5 µs a time, these 0.1.

cdef double _ISO_END = 253402300800.0  # 10000-01-01T00:00:00Z: datetime's years end at 9999


cdef inline void _digits2(char *out, long long value) noexcept:
    """Write ``value`` (0 to 99) as two ASCII digits."""
    out[0] = 48 + value // 10
    out[1] = 48 + value % 10


cdef inline bint _iso_into(double t, char *out) noexcept:
    """Write ``YYYY-MM-DDTHH:MM:SSZ`` of ``t`` (20 bytes) to ``out``; False unless a whole second in [1970, 10000)."""
    cdef long long seconds, days, z, era, doe, yoe, year, doy, mp, day, month, rest, hour, minute, second
    if not (0.0 <= t < _ISO_END) or t != <double>(<long long>t):
        return False
    seconds = <long long>t
    days = seconds // 86400
    rest = seconds - days * 86400
    # Days to a civil date (Howard Hinnant's algorithm; days >= 0 here, so C's division floors).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    if month <= 2:
        year += 1
    hour = rest // 3600
    minute = (rest // 60) % 60
    second = rest % 60
    _digits2(out, year // 100)
    _digits2(out + 2, year % 100)
    out[4] = 45  # -
    _digits2(out + 5, month)
    out[7] = 45
    _digits2(out + 8, day)
    out[10] = 84  # T
    _digits2(out + 11, hour)
    out[13] = 58  # :
    _digits2(out + 14, minute)
    out[16] = 58
    _digits2(out + 17, second)
    out[19] = 90  # Z
    return True


cdef inline object _iso_seconds(double t):
    """``YYYY-MM-DDTHH:MM:SSZ`` of ``t``, or None unless ``t`` is a whole second in [1970, 10000)."""
    cdef char buf[20]
    if not _iso_into(t, buf):
        return None
    return PyUnicode_DecodeASCII(buf, 20, NULL)


def iso_seconds(t):
    """The ISO 8601 UTC form of ``t`` (``2024-01-01T00:00:00Z``) for a whole second from 1970 on; else None.

    ``tengri.services.journal.iso`` gives every other time (fractions, before 1970) its form.
    """
    if not isinstance(t, (float, int)):
        return None
    return _iso_seconds(<double>t)


def iso_list(times, fallback):
    """:func:`iso_seconds` of every time, ``fallback(t)`` for a time it does not take."""
    cdef list out = []
    cdef object text
    for t in times:
        text = _iso_seconds(<double>t) if isinstance(t, (float, int)) else None
        out.append(fallback(t) if text is None else text)
    return out


def iso_column(const double[:] times):
    """:func:`iso_seconds` of every time as an Arrow string array, or None if one is not a whole second.

    No Python string a time: the 20 bytes of each are written into one buffer, which the array
    wraps (the journal's timeline column, a block of bars at a time).
    """
    import pyarrow as pa

    cdef Py_ssize_t n = times.shape[0], i
    if 20 * n >= 2**31:  # past a string array's 32-bit offsets
        return None
    data = np.empty(20 * n, dtype=np.uint8)
    cdef unsigned char[::1] out = data
    for i in range(n):
        if not _iso_into(times[i], <char *>&out[20 * i]):
            return None
    offsets = np.arange(0, 20 * n + 1, 20, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


# -- a replay's timeline rows ----------------------------------------------------------------------

cdef enum:
    TIMELINE_NUMBERS = 7  # equity, cash, position, open executions, temperature, in burst, symbol equity


cdef class TimelineBlock:
    """The engine's columns of a replay's timeline rows since the last flush, as columns.

    One :meth:`add` a bar (no tuple, no float object kept); :meth:`take` hands the block to the
    journal as NumPy arrays of doubles (a whole number reads and is written as before: Arrow
    writes ``3.0`` as ``3``) and the two zones' names as Arrow strings, and empties it.
    """

    cdef double *_numbers  # row-major, TIMELINE_NUMBERS a row
    cdef int *_zones  # two codes a row: the profit zone's, the thermal zone's
    cdef Py_ssize_t _n
    cdef Py_ssize_t _capacity
    cdef dict _codes  # name -> code
    cdef list _names  # code -> name

    def __cinit__(self):
        self._numbers = NULL
        self._zones = NULL
        self._n = 0
        self._capacity = 0
        self._codes = {}
        self._names = []

    def __dealloc__(self):
        PyMem_Free(self._numbers)
        PyMem_Free(self._zones)

    def __len__(self):
        return self._n

    cdef int _code(self, str name) except -1:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    cdef int _grow(self) except -1:
        cdef Py_ssize_t capacity = 1024 if self._capacity == 0 else 2 * self._capacity
        cdef double *numbers = <double *>PyMem_Realloc(self._numbers, capacity * TIMELINE_NUMBERS * sizeof(double))
        if numbers == NULL:
            raise MemoryError()
        self._numbers = numbers
        cdef int *zones = <int *>PyMem_Realloc(self._zones, capacity * 2 * sizeof(int))
        if zones == NULL:
            raise MemoryError()
        self._zones = zones
        self._capacity = capacity
        return 0

    def add(
        self,
        double equity,
        double cash,
        double position,
        double open_executions,
        str profit_zone,
        str thermal_zone,
        double temperature,
        double in_burst,
        double symbol_equity,
    ):
        """Append one bar's engine columns, in the timeline file's order."""
        if self._n == self._capacity:
            self._grow()
        cdef double *row = self._numbers + self._n * TIMELINE_NUMBERS
        row[0] = equity
        row[1] = cash
        row[2] = position
        row[3] = open_executions
        row[4] = temperature
        row[5] = in_burst
        row[6] = symbol_equity
        self._zones[2 * self._n] = self._code(profit_zone)
        self._zones[2 * self._n + 1] = self._code(thermal_zone)
        self._n += 1

    def take(self):
        """The block's columns in the file's order (see the class docstring); the block is emptied."""
        import pyarrow as pa

        cdef Py_ssize_t n = self._n, i, j
        numbers = np.empty((TIMELINE_NUMBERS, n), dtype=np.float64)
        zones = np.empty((2, n), dtype=np.int32)
        cdef double[:, ::1] out = numbers
        cdef int[:, ::1] codes = zones
        for i in range(n):
            for j in range(TIMELINE_NUMBERS):
                out[j, i] = self._numbers[i * TIMELINE_NUMBERS + j]
            codes[0, i] = self._zones[2 * i]
            codes[1, i] = self._zones[2 * i + 1]
        self._n = 0
        names = pa.array(self._names, type=pa.string())
        profit, thermal = (
            pa.DictionaryArray.from_arrays(pa.array(zones[k]), names).cast(pa.string()) for k in range(2)
        )
        a = numbers
        return [a[0], a[1], a[2], a[3], profit, thermal, a[4], a[5], a[6]]


# -- the profit window's cubic fit -----------------------------------------------------------------

cdef object _cubic_fit = None


cdef object _cubic_fit_type():
    global _cubic_fit
    if _cubic_fit is None:
        from tengri.engine.profit_fit import CubicFit
        _cubic_fit = CubicFit
    return _cubic_fit


cdef class CubicCore:
    """The sliding cubic fit's power sums, :meth:`push` and :meth:`solve`, compiled.

    The base of :class:`~tengri.engine.profit_fit.IncrementalCubicFit`, which documents the
    method and keeps the window's other work (loading, the exact re-base, the points, the fits
    of fewer than four points and the least-squares fallback) in Python. The arithmetic is
    that Python's (``tengri.engine._kernel_reference.IncrementalCubicFit``) operation for
    operation; the tests hold the two to the bit.
    """

    cdef public Py_ssize_t capacity
    cdef public Py_ssize_t rebase_interval
    cdef public Py_ssize_t n
    cdef public Py_ssize_t _head  # index of the oldest point
    cdef public Py_ssize_t _since_rebase
    cdef public double _t0
    cdef public double _y0
    cdef public double _t_new  # time of the newest point (meaningless when empty)
    cdef double _s[12]  # Σt'^k (k ≤ 6), Σt'^k·y' (k ≤ 3), Σy'², with t' = t − t0 and y' = y − y0
    cdef public object _t_array  # the ring buffer of times (NumPy; the re-base reads it)
    cdef public object _y_array
    cdef double[::1] _t
    cdef double[::1] _y

    def _set_buffers(self, times, values):
        """Take the ring buffers (float64 arrays of ``capacity`` values), shared with the subclass."""
        self._t_array, self._y_array = times, values
        self._t, self._y = times, values

    @property
    def _sums(self):
        return tuple(self._s[k] for k in range(12))

    @_sums.setter
    def _sums(self, values):
        cdef int k
        for k in range(12):
            self._s[k] = values[k]

    @property
    def mean(self):
        """Mean of the window's values (0 when empty)."""
        return self._y0 + self._s[7] / self.n if self.n else 0.0

    def push(self, double t, double y):
        """Add the newest point (the caller guarantees t increases), dropping the oldest if full."""
        cdef double *s = self._s
        cdef Py_ssize_t n = self.n, head = self._head, i
        cdef double p1, yp, p2, p3
        if n == self.capacity:
            # Subtract the oldest point's terms (x − a is exactly x + (−1)·a, as it was once added).
            p1 = self._t[head] - self._t0
            yp = self._y[head] - self._y0
            p2 = p1 * p1
            p3 = p2 * p1
            s[0] -= 1.0
            s[1] -= p1
            s[2] -= p2
            s[3] -= p3
            s[4] -= p2 * p2
            s[5] -= p3 * p2
            s[6] -= p3 * p3
            s[7] -= yp
            s[8] -= p1 * yp
            s[9] -= p2 * yp
            s[10] -= p3 * yp
            s[11] -= yp * yp
            self._t[head] = t
            self._y[head] = y
            head += 1
            self._head = 0 if head == n else head
        else:
            i = head + n
            if i >= self.capacity:
                i -= self.capacity
            self._t[i] = t
            self._y[i] = y
            self.n = n + 1
            if n == 0:
                self._t0 = t
                self._y0 = y
        p1 = t - self._t0
        yp = y - self._y0
        p2 = p1 * p1
        p3 = p2 * p1
        s[0] = s[0] + 1.0
        s[1] = s[1] + p1
        s[2] = s[2] + p2
        s[3] = s[3] + p3
        s[4] = s[4] + p2 * p2
        s[5] = s[5] + p3 * p2
        s[6] = s[6] + p3 * p3
        s[7] = s[7] + yp
        s[8] = s[8] + p1 * yp
        s[9] = s[9] + p2 * yp
        s[10] = s[10] + p3 * yp
        s[11] = s[11] + yp * yp
        self._t_new = t
        self._since_rebase += 1
        if self._since_rebase >= self.rebase_interval:
            self.rebase()

    def solve(self):
        """Return the least-squares cubic of the window in τ (lower degree below 4 points)."""
        cdef Py_ssize_t n = self.n, size
        cdef double s0, s1, s2, s3, s4, s5, s6, y0, y1, y2, y3, yy
        cdef double t_old, t_new, mean_p, mean, ss, var, h, m, g, g2, g3
        cdef double u0, u1, u2, u3, u4, u5, u6, uy0, uy1, uy2, uy3
        cdef double a0, a1, a2, a3, rss, residual_std, b0, b1, b2, b3
        cdef Py_ssize_t dof
        fit = _cubic_fit_type()
        if n == 0:
            return tuple.__new__(fit, ((0.0, 0.0, 0.0, 0.0), 0, 0.0, 0.0, 0.0, 0.0, 0.0))
        s0, s1, s2, s3, s4, s5, s6 = self._s[0], self._s[1], self._s[2], self._s[3], self._s[4], self._s[5], self._s[6]
        y0, y1, y2, y3, yy = self._s[7], self._s[8], self._s[9], self._s[10], self._s[11]
        t_old = self._t[self._head]
        t_new = self._t_new
        mean_p = y0 / <double>n
        mean = self._y0 + mean_p
        ss = yy - y0 * mean_p  # Σ(y − ȳ)², clamped at 0 against rounding
        var = (ss if ss > 0.0 else 0.0) / <double>(n - 1) if n > 1 else 0.0
        h = (t_new - t_old) / 2.0
        if n == 1 or h <= 0.0:
            return tuple.__new__(fit, ((mean, 0.0, 0.0, 0.0), n, mean, pow(var, 0.5), 0.0, t_old, t_new))
        m = -((t_old + t_new) / 2.0 - self._t0)
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s2 += m * s1
        s1 += m * s0
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s2 += m * s1
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s6 += m * s5
        s5 += m * s4
        s6 += m * s5
        y3 += m * y2
        y2 += m * y1
        y1 += m * y0
        y3 += m * y2
        y2 += m * y1
        y3 += m * y2
        g = 1.0 / h
        g2 = g * g
        g3 = g2 * g
        u0 = s0
        u1 = s1 * g
        u2 = s2 * g2
        u3 = s3 * g3
        u4 = s4 * (g2 * g2)
        u5 = s5 * (g3 * g2)
        u6 = s6 * (g3 * g3)
        uy0, uy1, uy2, uy3 = y0, y1 * g, y2 * g2, y3 * g3
        if n >= 4:
            size = 4
            if not _solve_hankel4(u0, u1, u2, u3, u4, u5, u6, uy0, uy1, uy2, uy3, &a0, &a1, &a2, &a3):
                # Numerically singular (times clustered far below the span): least squares directly.
                a0, a1, a2, a3 = self._lstsq_u(self._t0 - m, h)
        else:
            size = n
            a0, a1, a2, a3 = self._solve_small(n, (u0, u1, u2, u3, u4), (uy0, uy1, uy2, uy3))
        rss = yy - (a0 * uy0 + a1 * uy1 + a2 * uy2 + a3 * uy3)
        rss = rss if rss > 0.0 else 0.0
        dof = n - size
        residual_std = pow(rss / <double>dof, 0.5) if dof > 0 else 0.0
        # P(u) = Σ a_k u^k with u = 1 + 2τ  ⇒  b_j = 2^j Σ_k a_k C(k, j).
        b0 = a0 + a1 + a2 + a3 + self._y0
        b1 = 2.0 * (a1 + 2.0 * a2 + 3.0 * a3)
        b2 = 4.0 * (a2 + 3.0 * a3)
        b3 = 8.0 * a3
        return tuple.__new__(fit, ((b0, b1, b2, b3), n, mean, pow(var, 0.5), residual_std, t_old, t_new))


cdef bint _solve_hankel4(
    double u0, double u1, double u2, double u3, double u4, double u5, double u6,
    double r0, double r1, double r2, double r3,
    double *a0, double *a1, double *a2, double *a3,
):
    """The 4×4 normal equations ``G a = r``, ``G[i][j] = u_(i+j)``, by an unrolled Cholesky.

    False where the Python raised (a square root of a negative number, a division by zero), and
    the caller then falls back to least squares, as it did; a NaN goes through, as it did.
    """
    cdef double l00, l10, l20, l30, l11, l21, l31, l22, l32, l33, z0, z1, z2, z3, x
    if u0 < 0.0:
        return False
    l00 = sqrt(u0)
    if l00 == 0.0:
        return False
    l10 = u1 / l00
    l20 = u2 / l00
    l30 = u3 / l00
    x = u2 - l10 * l10
    if x < 0.0:
        return False
    l11 = sqrt(x)
    if l11 == 0.0:
        return False
    l21 = (u3 - l20 * l10) / l11
    l31 = (u4 - l30 * l10) / l11
    x = u4 - l20 * l20 - l21 * l21
    if x < 0.0:
        return False
    l22 = sqrt(x)
    if l22 == 0.0:
        return False
    l32 = (u5 - l30 * l20 - l31 * l21) / l22
    x = u6 - l30 * l30 - l31 * l31 - l32 * l32
    if x < 0.0:
        return False
    l33 = sqrt(x)
    if l33 == 0.0:
        return False
    z0 = r0 / l00
    z1 = (r1 - l10 * z0) / l11
    z2 = (r2 - l20 * z0 - l21 * z1) / l22
    z3 = (r3 - l30 * z0 - l31 * z1 - l32 * z2) / l33
    a3[0] = z3 / l33
    a2[0] = (z2 - l32 * a3[0]) / l22
    a1[0] = (z1 - l21 * a2[0] - l31 * a3[0]) / l11
    a0[0] = (z0 - l10 * a1[0] - l20 * a2[0] - l30 * a3[0]) / l00
    return True
