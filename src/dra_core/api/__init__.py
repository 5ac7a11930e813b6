"""Typed models of resource.k8s.io (v1) and the core/v1 parts that allocation reads."""

from dra_core.api.quantity import Quantity

__all__ = ["Quantity"]
