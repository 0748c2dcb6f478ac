"""Reference architectures composed from constructs_lib."""

from aws_cdk import App, Stack

from .image_processing import ImageProcessingStack
from .ledger_fanout import LedgerFanoutStack
from .order_fanout import OrderFanoutStack
from .push_notifications import PushNotificationsStack

__all__ = [
    "ImageProcessingStack",
    "LedgerFanoutStack",
    "OrderFanoutStack",
    "PushNotificationsStack",
    "add_reference_stacks",
]


def add_reference_stacks(app: App) -> list[Stack]:
    """Add every reference stack to ``app`` (environment-agnostic) and return them."""
    return [
        OrderFanoutStack(
            app,
            "OrderFanout",
            description="Order placed fanout to billing, shipping, inventory, analytics and "
            "customer notifications (constructs_lib reference architecture)",
        ),
        ImageProcessingStack(
            app,
            "ImageProcessing",
            description="Image jobs thumbnailed by Fargate workers scaled on backlog per worker "
            "(constructs_lib reference architecture)",
        ),
        LedgerFanoutStack(
            app,
            "LedgerFanout",
            description="Ledger entries in order per account through a FIFO topic to a FIFO "
            "balances queue and a standard audit queue (constructs_lib reference architecture)",
        ),
        PushNotificationsStack(
            app,
            "PushNotifications",
            description="Push notifications through APNs and FCM with device registration and "
            "delivery feedback (constructs_lib reference architecture)",
        ),
    ]
