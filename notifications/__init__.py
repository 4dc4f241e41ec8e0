"""Notifications: devices, in-app inbox, campaigns, the delivery outbox and its dispatcher."""
