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


def add_reference_stacks(
    app: App, *, account: str | None = None, region: str | None = None
) -> list[Stack]:
    """Add every reference stack to ``app`` and return them.

    By default all are account-agnostic, and all but the cross-region pair region-agnostic
    too; the pair pins its two regions, which is what makes it cross-region. ``account`` and
    ``region`` pin the stacks instead, as a production app does (``region`` applies to all but
    the pair).
    """
    env = Environment(account=account, region=region)
    primary = OrdersPrimaryStack(
        app,
        "OrdersPrimary",
        env=Environment(account=account, region=PRIMARY_REGION),
        description="Order placed topic in the primary region, with a disaster-recovery "
        "subscriber in another region (constructs_lib reference architecture)",
    )
    recovery = OrdersRecoveryStack(
        app,
        "OrdersRecovery",
        orders=primary.orders,
        env=Environment(account=account, region=RECOVERY_REGION),
        description="Disaster-recovery copy of the primary region's orders, subscribed "
        "across regions (constructs_lib reference architecture)",
    )
    return [
        OrderFanoutStack(
            app,
            "OrderFanout",
            env=env,
            description="Order placed fanout to billing, shipping, inventory, analytics and "
            "customer notifications (constructs_lib reference architecture)",
        ),
        ImageProcessingStack(
            app,
            "ImageProcessing",
            env=env,
            description="Image jobs thumbnailed by Fargate workers scaled on backlog per worker "
            "(constructs_lib reference architecture)",
        ),
        LedgerFanoutStack(
            app,
            "LedgerFanout",
            env=env,
            description="Ledger entries in order per account through a FIFO topic to a FIFO "
            "balances queue and a standard audit queue (constructs_lib reference architecture)",
        ),
        PushNotificationsStack(
            app,
            "PushNotifications",
            env=env,
            description="Push notifications through APNs and FCM with device registration and "
            "delivery feedback (constructs_lib reference architecture)",
        ),
        primary,
        recovery,
    ]
