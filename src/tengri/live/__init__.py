"""Live trading's seams: market-data feeds, brokers, the feed's watch, orders and reconciliation.

The engine trades live through the replay's own code path (:mod:`tengri.services.live`); this
package holds what only live trading needs, behind small protocols: a :class:`Feed` of closed
bars and a :class:`Broker` that carries the desk's fills to a market.
"""

from tengri.live.brokers import Broker, Order, OrderReport, PaperBroker, client_order_id
from tengri.live.feeds import Bar, Feed, FileFeed, LineFeed
from tengri.live.orders import OrderRouter, Reconciliation, reconcile
from tengri.live.specs import ExchangeSettings, exchange_credentials, open_broker, open_feed
from tengri.live.watch import FeedEvent, FeedWatch

__all__ = [
    "Bar",
    "Broker",
    "ExchangeSettings",
    "Feed",
    "FeedEvent",
    "FeedWatch",
    "FileFeed",
    "LineFeed",
    "Order",
    "OrderReport",
    "OrderRouter",
    "PaperBroker",
    "Reconciliation",
    "client_order_id",
    "exchange_credentials",
    "open_broker",
    "open_feed",
    "reconcile",
]
