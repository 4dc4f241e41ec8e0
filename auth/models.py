"""Users, roles and identity assurance levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId


class Role(StrEnum):
    CITIZEN = "CITIZEN"
    VERIFIER = "VERIFIER"
    CLERK = "CLERK"
    OPERATOR = "OPERATOR"
    ADMIN = "ADMIN"
    # 督查: closes rectification and feedback tickets of their department (好差评 闭环).
    SUPERVISOR = "SUPERVISOR"


class AssuranceLevel(StrEnum):
    """How sure we are who the person is: L1 phone, L2 real-name verified, L3 face verified."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1])


@dataclass(frozen=True, slots=True)
class Organization:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class User:
    id: ObjectId
    phone: str
    roles: tuple[Role, ...]
    assurance_level: AssuranceLevel
    created_at: datetime
    name: str | None = None
    id_number_cipher: bytes | None = None
    id_number_index: str | None = None
    birth_date: date | None = None
    region_code: str | None = None
    organization: Organization | None = None  # verifiers' organisation
    scenes: tuple[str, ...] = ()  # check scenes a verifier may run
    department_code: str | None = None  # clerks' department
    tags: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def new_citizen(cls, phone: str, level: AssuranceLevel, now: datetime) -> User:
        return cls(
            id=ObjectId(),
            phone=phone,
            roles=(Role.CITIZEN,),
            assurance_level=level,
            created_at=now,
        )

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> User:
        org = doc.get("organization")
        birth = doc.get("birth_date")
        return cls(
            id=doc["_id"],
            phone=doc["phone"],
            roles=tuple(Role(r) for r in doc.get("roles", [Role.CITIZEN])),
            assurance_level=AssuranceLevel(doc.get("assurance_level", "L1")),
            created_at=doc["created_at"],
            name=doc.get("name"),
            id_number_cipher=doc.get("id_number_cipher"),
            id_number_index=doc.get("id_number_index"),
            birth_date=date.fromisoformat(birth) if isinstance(birth, str) else None,
            region_code=doc.get("region_code"),
            organization=Organization(org["code"], org["name"]) if org else None,
            scenes=tuple(doc.get("scenes", ())),
            department_code=doc.get("department_code"),
            tags=tuple(doc.get("tags", ())),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "phone": self.phone,
            "roles": [r.value for r in self.roles],
            "assurance_level": self.assurance_level.value,
            "created_at": self.created_at,
            "name": self.name,
            "id_number_cipher": self.id_number_cipher,
            "id_number_index": self.id_number_index,
            # Dates as ISO strings: BSON has no date-only type and a midnight datetime lies about
            # the time zone.
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "region_code": self.region_code,
            "organization": (
                {"code": self.organization.code, "name": self.organization.name}
                if self.organization
                else None
            ),
            "scenes": list(self.scenes),
            "department_code": self.department_code,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, slots=True)
class CitizenFilter:
    """Every given part must hold. `phone_keys` are phones' blind indexes (see `phone_keys`)."""

    region_codes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    phone_keys: tuple[str, ...] = ()
    legal_person: bool | None = None  # True: 法人 accounts only; False: individuals only
    # Only among these accounts (another domain's set, e.g. a licence type's holders); empty:
    # no such restriction.
    among: tuple[ObjectId, ...] = ()
