"""Who may call each root field of the schema: the authorisation matrix's rules table.

Every Query and Mutation root field needs an entry here; `test_authz_matrix.py` fails with
"add a rule for X" when the schema has a field this table does not know. To add a rule, add one
line to `RULES` (keep it near its domain's block so parallel branches merge cleanly):

    "myNewQuery": signed_in(),                          # any signed-in person
    "adminThing": roles("admin"),                       # only these roles; others FORBIDDEN
    "publicList": public(),                             # anonymous too
    "myThing": owner("application", "id"),              # the owner only; others see nothing
    "staffAct": roles("clerk").on("application", "input.applicationId"),

`owner(kind, path)` / `.on(kind, path)` name the argument (dotted path into the variables) that
carries an object id, and the kind of object (`OBJECT_KINDS` in `authz_objects.py` says how to
make one for a person; add a kind there if yours is new). Such a field is probed three times per
role: with the caller's own object, with someone else's, and with an id that names nothing.
`readers_of_others` lists roles that may legitimately see other people's objects (a clerk reads
the applications of their department). A field whose authorisation depends on the object (a
ticket's department) may have a tuple of rules, one per kind of object; each is probed.

Roles are the matrix's people (tests/security/roles.py): anonymous, citizen, clerk, operator,
verifier, admin, supervisor. Clerk and verifier are also citizens (their accounts carry CITIZEN).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CITIZENS = ("citizen", "clerk", "verifier", "supervisor")  # accounts holding CITIZEN
EVERYONE_SIGNED_IN = ("citizen", "clerk", "operator", "verifier", "admin", "supervisor")


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]  # roles that get past authorisation ("anonymous" for public)
    kind: str | None = None  # object kind the id argument names (None: no object dimension)
    id_path: str | None = None
    readers_of_others: frozenset[str] = frozenset()
    ends_session: bool = False  # probe with a throw-away session (logout)
    # Staff acts on an object: owning it (having reported a ticket) gives no right; only the
    # roles in `readers_of_others` pass, for their own object as for anyone else's.
    staff_only: bool = False

    def on(
        self, kind: str, id_path: str, *, others: tuple[str, ...] = (), staff_only: bool = False
    ) -> Rule:
        return replace(
            self,
            kind=kind,
            id_path=id_path,
            readers_of_others=frozenset(others),
            staff_only=staff_only,
        )


def public() -> Rule:
    return Rule(frozenset(("anonymous", *EVERYONE_SIGNED_IN)))


def signed_in() -> Rule:
    return Rule(frozenset(EVERYONE_SIGNED_IN))


def roles(*names: str) -> Rule:
    return Rule(frozenset(names))


def owner(kind: str, id_path: str, *, who: tuple[str, ...] = EVERYONE_SIGNED_IN) -> Rule:
    return Rule(frozenset(who), kind, id_path)


# A field probed in more than one way (several object kinds) has a tuple of rules.
RULES: dict[str, Rule | tuple[Rule, ...]] = {
    # -- auth ------------------------------------------------------------------------------
    "me": signed_in(),
    "requestLoginCode": public(),
    "loginWithCode": public(),
    "exchangeIdentityToken": public(),
    "refreshSession": public(),
    "logout": replace(signed_in(), ends_session=True),
    # -- matters (办事指南): public reads, catalogue edits by operators and admins -----------
    "matter": public(),
    "matters": public(),
    "searchMatters": public(),
    "bundles": public(),
    "lifeEvents": public(),
    "departments": public(),
    "regions": public(),
    "nearbyServicePoints": public(),
    "hotMatters": public(),
    "catalogueStats": public(),
    "matterVersions": roles("operator", "admin"),
    "createMatter": roles("operator", "admin"),
    "editMatter": roles("operator", "admin"),
    "publishMatter": roles("operator", "admin"),
    "withdrawMatter": roles("operator", "admin"),
    "importMatters": roles("operator", "admin"),
    # -- applications (申办) ----------------------------------------------------------------
    "application": owner("application", "id").on("application", "id", others=("clerk",)),
    "myApplications": signed_in(),
    "myMaterials": signed_in(),
    "uploadMaterial": signed_in(),
    "deleteMaterial": owner("material", "input.uploadId"),
    "applicationQueue": roles("clerk"),
    "ratingStats": public(),
    "applicationPrefill": signed_in(),
    "submitApplication": signed_in(),
    "saveApplicationDraft": signed_in(),
    "acceptApplication": roles("clerk"),
    "returnApplication": roles("clerk"),
    "approveApplication": roles("clerk"),
    "rejectApplication": roles("clerk"),
    "transferApplication": roles("clerk"),
    "withdrawApplication": owner("application", "input.applicationId"),
    "supplementMaterials": owner("application", "input.applicationId"),
    "rateApplication": owner("application", "input.applicationId"),
    "revokeApplication": roles("clerk"),
    "resubmitApplication": owner("application", "input.applicationId"),
    # 一件事, 帮办代办, tickets, post-checks, KPIs (applications/flows)
    "bundleApplication": owner("bundle", "id"),
    "myBundles": signed_in(),
    "submitBundle": signed_in(),
    "myAgencyGrants": signed_in(),
    "agencyGrantsToMe": signed_in(),
    "myAgentApplications": signed_in(),
    "grantAgency": signed_in(),
    "revokeAgency": owner("agency_grant", "input.grantId"),
    "myFeedback": signed_in(),
    "myAgentFeedback": signed_in(),
    "submitFeedback": signed_in(),
    # Tickets, probed twice (authz_objects): "ticket" is a complaint about a department none of
    # the matrix's staff handles (only its reporter and admins see it, only admins take or close
    # it); "rectification" a 差评整改 ticket of a case the matrix's clerk and supervisor handle.
    # (Also readable by the agent who filed it for its reporter, while a grant covers it: no
    # matrix person holds a grant, so that path is tested in flows/test_agent_feedback.py.)
    "ticket": (
        owner("ticket", "id").on("ticket", "id", others=("admin",)),
        owner("rectification", "id").on(
            "rectification", "id", others=("clerk", "supervisor", "admin")
        ),
    ),
    "ticketQueue": roles("clerk", "supervisor", "admin"),
    "startTicket": (
        roles("clerk", "supervisor", "admin").on(
            "ticket", "input.ticketId", others=("admin",), staff_only=True
        ),
        roles("clerk", "supervisor", "admin").on(
            "rectification", "input.ticketId", others=("clerk", "supervisor", "admin")
        ),
    ),
    "closeTicket": (
        roles("supervisor", "admin").on(
            "ticket", "input.ticketId", others=("admin",), staff_only=True
        ),
        roles("supervisor", "admin").on(
            "rectification", "input.ticketId", others=("supervisor", "admin")
        ),
    ),
    "postCheckQueue": roles("clerk"),
    "recordPostCheck": roles("clerk"),
    # 结果送达 (applications/shipping.py)
    "shippingQueue": roles("clerk"),
    "recordShipment": roles("clerk"),
    "recordPickup": roles("clerk"),
    # 打印面单 opens a sealed address: the handling department's clerks, never the applicant
    "shippingLabel": roles("clerk").on(
        "application", "applicationId", others=("clerk",), staff_only=True
    ),
    "confirmReceipt": owner("application", "input.applicationId"),
    "applicationKpis": roles("admin", "clerk", "supervisor"),
    "exportRatings": roles("admin", "supervisor"),
    # -- electronic cards (电子卡包) ----------------------------------------------------------
    "myLicences": signed_in(),
    "delegatedLicences": signed_in(),
    "licence": owner("licence", "id"),
    "licenceUsageRecords": owner("licence", "licenceId"),
    "licenceGrants": owner("licence", "licenceId"),
    "licenceTypes": public(),
    "grantedLicence": roles("verifier"),
    "createLicenceQr": owner("licence", "input.licenceId"),
    "verifyLicenceQr": roles("verifier"),
    "grantLicenceUse": owner("licence", "input.licenceId"),
    "revokeLicenceGrant": signed_in(),
    "delegateLicence": owner("licence", "input.licenceId"),
    "revokeLicenceDelegation": signed_in(),
    # issuing organisation or admin: nobody in the matrix is an issuer, so only the admin
    "revokeLicence": roles("admin"),
    "suspendLicence": roles("admin"),
    "reinstateLicence": roles("admin"),
    "reportLicenceError": owner("licence", "input.licenceId"),
    # -- notifications ---------------------------------------------------------------------
    "inbox": signed_in(),
    "unreadNotificationCount": signed_in(),
    "myDevices": signed_in(),
    "notificationPreferences": signed_in(),
    "registerDevice": signed_in(),
    "unregisterDevice": owner("device", "input.deviceId"),
    "recordSubscribeGrant": owner("miniprogram_device", "input.deviceId"),
    "markNotificationRead": signed_in(),
    "markNotificationOpened": signed_in(),
    "markAllNotificationsRead": signed_in(),
    "setNotificationPreferences": signed_in(),
    # -- PIPL rights (app/personal_data_schema.py) -------------------------------------------
    "exportMyData": signed_in(),
    "deleteMyAccount": signed_in(),
    "campaign": roles("operator"),
    "campaigns": roles("operator"),
    "previewCampaign": roles("operator"),
    "createCampaign": roles("operator"),
    "approveCampaign": roles("operator"),
    "cancelCampaign": roles("operator"),
}
