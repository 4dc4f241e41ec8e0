"""GraphQL types and operations of policy campaigns (operators): thin calls into the service."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from app.api_types import UserError, run_mutation
from app.context import Context
from app.ids import object_id_from_global, to_global_id
from app.pagination import Connection, Edge
from notifications import enums as _enums  # noqa: F401 - registers the GraphQL enums
from notifications import models
from notifications.campaigns import CampaignDraft, CampaignService
from notifications.phone_list import parse_phone_list


def _campaigns(info: Info[Context, None]) -> CampaignService:
    state = info.context.state
    return CampaignService(
        state.db, state.keyring, min_reported=state.settings.campaign_min_reported
    )


_BANDED = " Null when withheld (see band)."


@strawberry.type(description="Delivery figures of a campaign.")
class CampaignStats:
    targeted: int | None = strawberry.field(
        description="Recipients (accounts) the target matched." + _BANDED
    )
    queued: int | None = strawberry.field(
        description="Recipients whose delivery is not finished." + _BANDED
    )
    inboxed: int | None = strawberry.field(description="Inbox copies written." + _BANDED)
    sent: int | None = strawberry.field(description="Pushes a provider accepted." + _BANDED)
    failed: int | None = strawberry.field(description="Pushes that failed for good." + _BANDED)
    suppressed: int | None = strawberry.field(
        description="Recipients kept to the inbox only (opt-out or the 2-a-day cap)." + _BANDED
    )
    opened: int | None = strawberry.field(description="Inbox copies opened." + _BANDED)
    band: str | None = strawberry.field(
        default=None,
        description="Set when the figures are withheld: before approval and planning, the "
        'audience as a preview bands it ("<10", "10–99", "100–999", "≈1200"; a phone list is '
        'never exact); after, "<10" (ZSB_CAMPAIGN_MIN_REPORTED) when it reached so few people '
        "that the figures would describe individuals.",
    )


@strawberry.type(description="An operator's policy push (政策推送).")
class Campaign:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    title: str = strawberry.field(description="Title shown in the notification.")
    body: str = strawberry.field(description="Message text.")
    deep_link: str | None = strawberry.field(description="Where the app opens.")
    category: models.Category = strawberry.field(description="Message category.")
    status: models.CampaignStatus = strawberry.field(description="Where the campaign is.")
    scheduled_at: datetime | None = strawberry.field(description="Earliest send time.")
    created_at: datetime = strawberry.field(description="When it was drafted.")
    _model: strawberry.Private[models.Campaign]

    @classmethod
    def of(cls, c: models.Campaign) -> Campaign:
        return cls(
            id=strawberry.ID(to_global_id("Campaign", c.id)),
            title=c.title,
            body=c.body,
            deep_link=c.deep_link,
            category=c.category,
            status=c.status,
            scheduled_at=c.scheduled_at,
            created_at=c.created_at,
            _model=c,
        )

    @strawberry.field(description="True when the signed-in operator drafted it (may not approve).")
    def created_by_me(self, info: Info[Context, None]) -> bool:
        return info.context.require_viewer().user_id == self._model.created_by

    @strawberry.field(description="Delivery figures so far.")
    async def stats(self, info: Info[Context, None]) -> CampaignStats:
        service = _campaigns(info)
        s = await service.stats(self._model)
        band = service.withheld_band(self._model, s)
        if band is not None:
            return CampaignStats(
                targeted=None,
                queued=None,
                inboxed=None,
                sent=None,
                failed=None,
                suppressed=None,
                opened=None,
                band=band,
            )
        return CampaignStats(
            targeted=s.targeted,
            queued=s.queued,
            inboxed=s.inboxed,
            sent=s.sent,
            failed=s.failed,
            suppressed=s.suppressed,
            opened=s.opened,
        )


@strawberry.input(description="Who a campaign reaches; every given criterion must hold.")
class CampaignTargetInput:
    all: bool = strawberry.field(default=False, description="Every citizen (no other criteria).")
    region_codes: list[str] | None = strawberry.field(
        default=None, description="6-digit administrative division codes, e.g. 370202."
    )
    audience: models.Audience | None = strawberry.field(
        default=None, description="个人 or 法人 accounts only."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Accounts with any of these profile tags."
    )
    licence_type_code: str | None = strawberry.field(
        default=None,
        description="Holders of a valid, unexpired licence of this type (e.g. JDCJSZ).",
    )
    phones: list[str] | None = strawberry.field(
        default=None, description="An explicit list of mobile numbers, ≤ 10,000 in all."
    )
    phone_list: str | None = strawberry.field(
        default=None,
        description=(
            "An uploaded list as text: one number per line, or CSV with the number first; "
            "≤ 256 KB. Any invalid row refuses the list, naming the rows (INVALID_TARGET)."
        ),
    )

    def to_model(self) -> models.Target:
        return models.Target(
            all=self.all,
            region_codes=tuple(self.region_codes or ()),
            audience=self.audience,
            tags=tuple(self.tags or ()),
            licence_type_code=self.licence_type_code,
            phones=tuple(self.phones or ())
            + (parse_phone_list(self.phone_list) if self.phone_list is not None else ()),
        )


@strawberry.input(description="Draft a policy push; a second operator must approve it.")
class CreateCampaignInput:
    title: str = strawberry.field(description="Title, ≤ 40 characters.")
    body: str = strawberry.field(description="Text, ≤ 500 characters.")
    deep_link: str | None = strawberry.field(default=None, description="zsb:// or https:// link.")
    category: models.Category = strawberry.field(
        default=models.Category.POLICY, description="Usually POLICY."
    )
    target: CampaignTargetInput = strawberry.field(description="Who it reaches.")
    scheduled_at: datetime | None = strawberry.field(
        default=None, description="Send no earlier than this; null: as soon as approved."
    )


@strawberry.type(description="Result of createCampaign, approveCampaign and cancelCampaign.")
class CampaignPayload:
    campaign: Campaign | None = strawberry.field(default=None, description="The campaign.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="INVALID_TARGET, EMPTY_AUDIENCE, FOUR_EYES_REQUIRED, INVALID_STATE, NOT_FOUND.",
    )


@strawberry.type(description="Result of createCampaign.")
class CreateCampaignPayload(CampaignPayload):
    pass


@strawberry.type(description="Result of approveCampaign.")
class ApproveCampaignPayload(CampaignPayload):
    pass


@strawberry.type(description="Result of cancelCampaign.")
class CancelCampaignPayload(CampaignPayload):
    pass


@strawberry.input(description="A campaign to approve or cancel.")
class CampaignIdInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign's id.")


@strawberry.input(description="Approve a campaign drafted by another operator.")
class ApproveCampaignInput(CampaignIdInput):
    pass


@strawberry.input(description="Cancel a campaign that has not finished.")
class CancelCampaignInput(CampaignIdInput):
    pass


@strawberry.input(description="A target to count before drafting a campaign.")
class PreviewCampaignInput:
    target: CampaignTargetInput = strawberry.field(description="Who it would reach.")


@strawberry.type(description="Result of previewCampaign.")
class PreviewCampaignPayload:
    audience_size: int | None = strawberry.field(
        default=None,
        description="Accounts the target matches now, only for a target without a phone list "
        "matching at least 100 × ZSB_CAMPAIGN_MIN_REPORTED (1000); otherwise null: see "
        "audienceBand.",
    )
    audience_band: str | None = strawberry.field(
        default=None,
        description='The size as shown to operators: "<10" below the threshold, then "10–99", '
        '"100–999", then two significant figures ("≈1200"); the number itself only where '
        "audienceSize is given. A phone list is always banded: an exact count of a padded list "
        "would tell whether one listed number is registered.",
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="INVALID_TARGET."
    )


@strawberry.type
class CampaignQuery:
    @strawberry.field(description="A campaign (operators only).")
    async def campaign(self, info: Info[Context, None], id: strawberry.ID) -> Campaign | None:
        viewer = info.context.require_viewer()
        campaign_id = object_id_from_global(id, "Campaign")
        return Campaign.of(await _campaigns(info).get(viewer, campaign_id))

    @strawberry.field(description="Campaigns, newest first, optionally of one status (operators).")
    async def campaigns(
        self,
        info: Info[Context, None],
        status: models.CampaignStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Campaign]:
        viewer = info.context.require_viewer()
        page = await _campaigns(info).list_campaigns(viewer, status, first, after)
        return Connection(
            edges=[Edge(node=Campaign.of(e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(description="Count who a target reaches (operators).")
    async def preview_campaign(
        self, info: Info[Context, None], input: PreviewCampaignInput
    ) -> PreviewCampaignPayload:
        viewer = info.context.require_viewer()

        async def act() -> PreviewCampaignPayload:
            info.context.take_budget("previewCampaign")
            size = await _campaigns(info).preview(viewer, input.target.to_model())
            return PreviewCampaignPayload(audience_size=size.exact, audience_band=size.band)

        return await run_mutation(PreviewCampaignPayload, act)

    @strawberry.mutation(description="Draft a policy push (operators); it waits for approval.")
    async def create_campaign(
        self, info: Info[Context, None], input: CreateCampaignInput
    ) -> CreateCampaignPayload:
        viewer = info.context.require_viewer()

        async def act() -> CreateCampaignPayload:
            draft = CampaignDraft(
                title=input.title,
                body=input.body,
                deep_link=input.deep_link,
                category=input.category,
                target=input.target.to_model(),
                scheduled_at=input.scheduled_at,
            )
            return CreateCampaignPayload(
                campaign=Campaign.of(await _campaigns(info).create(viewer, draft))
            )

        return await run_mutation(CreateCampaignPayload, act)

    @strawberry.mutation(description="Approve a campaign drafted by another operator.")
    async def approve_campaign(
        self, info: Info[Context, None], input: ApproveCampaignInput
    ) -> ApproveCampaignPayload:
        viewer = info.context.require_viewer()

        async def act() -> ApproveCampaignPayload:
            cid = object_id_from_global(input.campaign_id, "Campaign", field="campaignId")
            return ApproveCampaignPayload(
                campaign=Campaign.of(await _campaigns(info).approve(viewer, cid))
            )

        return await run_mutation(ApproveCampaignPayload, act)

    @strawberry.mutation(description="Stop a campaign before it finishes; sent pushes stay sent.")
    async def cancel_campaign(
        self, info: Info[Context, None], input: CancelCampaignInput
    ) -> CancelCampaignPayload:
        viewer = info.context.require_viewer()

        async def act() -> CancelCampaignPayload:
            cid = object_id_from_global(input.campaign_id, "Campaign", field="campaignId")
            return CancelCampaignPayload(
                campaign=Campaign.of(await _campaigns(info).cancel(viewer, cid))
            )

        return await run_mutation(CancelCampaignPayload, act)
