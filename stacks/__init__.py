"""Reference architectures composed from constructs_lib."""

from aws_cdk import App, Environment, Stack

from .disaster_recovery import (
    PRIMARY_REGION,
    RECOVERY_REGION,
    OrdersPrimaryStack,
    OrdersRecoveryStack,
)
from .image_processing import ImageProcessingStack
from .ledger_fanout import LedgerFanoutStack
from .order_fanout import OrderFanoutStack
from .push_notifications import PushNotificationsStack

__all__ = [
    "ImageProcessingStack",
    "LedgerFanoutStack",
    "OrderFanoutStack",
    "OrdersPrimaryStack",
    "OrdersRecoveryStack",
    "PushNotificationsStack",
    "add_reference_stacks",
]


def add_reference_stacks(app: App) -> list[Stack]:
    """Add every reference stack to ``app`` and return them.

    All are account-agnostic. All but the cross-region pair are region-agnostic too; the
    pair pins its two regions, which is what makes it cross-region.
    """
    primary = OrdersPrimaryStack(
        app,
        "OrdersPrimary",
        env=Environment(region=PRIMARY_REGION),
        description="Order placed topic in the primary region, with a disaster-recovery "
        "subscriber in another region (constructs_lib reference architecture)",
    )
    recovery = OrdersRecoveryStack(
        app,
        "OrdersRecovery",
        orders=primary.orders,
        env=Environment(region=RECOVERY_REGION),
        description="Disaster-recovery copy of the primary region's orders, subscribed "
        "across regions (constructs_lib reference architecture)",
    )
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
        primary,
        recovery,
    ]
