"""The ccxt broker and feed against the Binance emulator: orders placed, partly filled, filled,
cancelled and rejected; dry runs send nothing; an id is never sent twice; keys never logged."""

from __future__ import annotations

import logging

import pytest
from tests.live.binance_emulator import BinanceEmulator
from tests.live.conftest import SECRET, settings

from tengri.errors import InvalidInputError
from tengri.live import Order, client_order_id
from tengri.live.ccxt_broker import CcxtBroker
from tengri.live.ccxt_feed import CcxtFeed

pytestmark = pytest.mark.usefixtures("keys")


def _order(execution_id: str, side: str = "buy", amount: float = 10.0) -> Order:
    return Order(client_order_id(execution_id, "open"), execution_id, "open", "goog", side, amount, 100.0)  # type: ignore[arg-type]


def test_an_order_is_placed_and_filled(emulator: BinanceEmulator) -> None:
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    report = broker.submit(_order("e1"))
    assert (report.status, report.filled, report.average) == ("filled", 10.0, emulator.bars[31][0])
    assert emulator.balances["GOOG"] == 10.0
    assert broker.position("GOOG/USDT") == 10.0


def test_an_order_fills_in_parts_then_in_full(emulator: BinanceEmulator) -> None:
    emulator.liquidity = 4.0
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    order = _order("e2")
    first = broker.submit(order)
    assert (first.status, first.filled) == ("partial", 4.0)
    assert [o.client_id for o in broker.open_orders("GOOG/USDT")] == [order.client_id]
    emulator.advance()
    assert broker.find(order.client_id, "GOOG/USDT") == broker.find(order.client_id, "GOOG/USDT")
    second = broker.find(order.client_id, "GOOG/USDT")
    assert second is not None
    assert (second.status, second.filled) == ("partial", 8.0)
    emulator.advance()
    last = broker.find(order.client_id, "GOOG/USDT")
    assert last is not None
    assert (last.status, last.filled) == ("filled", 10.0)
    expected = (4 * emulator.bars[31][0] + 4 * emulator.bars[32][0] + 2 * emulator.bars[33][0]) / 10
    assert last.average == pytest.approx(expected)


def test_a_partly_filled_order_is_cancelled_and_what_filled_stands(emulator: BinanceEmulator) -> None:
    emulator.liquidity = 3.0
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    order = _order("e3")
    broker.submit(order)
    cancelled = broker.cancel(order.client_id, "GOOG/USDT")
    assert (cancelled.status, cancelled.filled) == ("cancelled", 3.0)
    emulator.advance()
    assert emulator.balances["GOOG"] == 3.0
    assert broker.open_orders("GOOG/USDT") == []


@pytest.mark.parametrize(
    ("side", "amount", "reason"),
    [
        ("buy", 100_000.0, "InsufficientFunds"),
        ("sell", 5.0, "InsufficientFunds"),
        ("buy", 0.5, "InvalidOrder"),
    ],
)
def test_a_refused_order_is_a_rejected_report(
    emulator: BinanceEmulator, side: str, amount: float, reason: str
) -> None:
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    report = broker.submit(_order("e4", side, amount))
    assert report.status == "rejected"
    assert report.reason.startswith(reason)
    assert emulator.balances == {"USDT": 100_000.0, "GOOG": 0.0}


def test_the_same_client_id_is_never_sent_twice(emulator: BinanceEmulator) -> None:
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    order = _order("e5")
    assert broker.submit(order) == broker.submit(order)
    assert emulator.posted_orders() == 1
    assert emulator.balances["GOOG"] == 10.0


def test_without_live_orders_nothing_is_sent(emulator: BinanceEmulator) -> None:
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator))
    assert broker.submit(_order("e6")).status == "dry_run"
    assert emulator.posted_orders() == 0
    assert broker.name == "ccxt:binance (dry run)"


def test_keys_are_sent_but_never_logged(emulator: BinanceEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(emulator), live_orders=True)
    broker.submit(_order("e7", amount=100_000.0))  # a rejection logs the exchange's answer
    broker.submit(_order("e8"))
    assert emulator.posted_orders() == 2  # the emulator refuses a request without the key header
    assert SECRET not in caplog.text
    assert "emulator-key" not in caplog.text


def test_live_orders_without_keys_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENGRI_BINANCE_API_KEY")
    with pytest.raises(InvalidInputError, match="TENGRI_BINANCE_API_KEY"):
        CcxtBroker("binance", "GOOG/USDT", live_orders=True)


def test_the_feed_emits_closed_bars_only_after_a_warm_up_backfill(emulator: BinanceEmulator) -> None:
    feed = CcxtFeed("binance", "GOOG/USDT", "1d", settings=settings(emulator), warmup=200)
    assert feed.interval == 86_400.0
    backfill = feed.poll()
    assert [b.timestamp * 1000 for b in backfill] == emulator.times[:31]  # not bar 31, still forming
    assert feed.poll() == []
    emulator.advance()
    (bar,) = feed.poll()
    assert (bar.timestamp * 1000, bar.close) == (emulator.times[31], emulator.bars[31][3])
