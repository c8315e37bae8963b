"""The operators' dashboard: server-rendered pages on their own listener."""

from edi_gateway.web.dashboard.app import create_dashboard
from edi_gateway.web.dashboard.listener import DashboardListener, DashboardUnavailable

__all__ = ["DashboardListener", "DashboardUnavailable", "create_dashboard"]
