"""Reference architectures composed from constructs_lib."""

from aws_cdk import App, Stack

from .image_processing import ImageProcessingStack
from .order_fanout import OrderFanoutStack

__all__ = ["ImageProcessingStack", "OrderFanoutStack", "add_reference_stacks"]


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
    ]
