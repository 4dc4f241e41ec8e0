"""The notification enums, registered with Strawberry once (both schema modules import this)."""

from __future__ import annotations

import strawberry

from notifications import models

strawberry.enum(models.Provider, description="A push channel: FCM or WeChat subscribe messages.")
strawberry.enum(models.Platform, description="The operating system of an installation.")
strawberry.enum(
    models.Category,
    description="What a message is about. POLICY is promotional (at most 2 pushes a day, "
    "held in quiet hours); the others are service notices about the user's own affairs.",
)
strawberry.enum(models.CampaignStatus, description="Where a campaign is in its life.")
