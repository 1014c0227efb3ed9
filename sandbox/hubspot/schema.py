"""Object types, their property definitions and the time helpers the stand-in shares.

The property names here are a contract: the loaders and dbt models code against them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

# hs_custom_field_NNN: mostly-null custom properties. Contacts get as many as a real portal has
# properties (~400), so "request every property" in a GET URL passes 8,000 characters (414).
FILLER_COUNT = {"contacts": 400, "companies": 100, "deals": 100, "tickets": 100, "p_subscriptions": 20}


@dataclass(frozen=True)
class PropDef:
    name: str
    type: str                      # string | number | datetime | date | bool | enumeration
    label: str = ""
    field_type: str = ""
    group: str = "information"
    options: tuple[str, ...] = ()
    description: str = ""
    hubspot_defined: bool = True

    def to_api(self, object_type: str, display_order: int) -> dict:
        field_type = self.field_type or {
            "string": "text", "number": "number", "datetime": "date", "date": "date",
            "bool": "booleancheckbox", "enumeration": "select",
        }[self.type]
        options = [{"label": value.replace("_", " ").title(), "value": value,
                    "displayOrder": i, "hidden": False} for i, value in enumerate(self.options)]
        if self.type == "bool":
            options = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                       {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": field_type,
            "description": self.description,
            "groupName": f"{object_type[:-1]}{self.group}" if self.group == "information" else self.group,
            "options": options,
            "displayOrder": display_order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.name == "hs_object_id",
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.name.startswith("hs_object")},
            "formField": self.type in ("string", "enumeration"),
            "createdAt": "2019-08-06T02:41:08.029Z",
            "updatedAt": "2024-03-12T10:15:42.511Z",
            "archived": False,
        }


@dataclass
class ObjectType:
    name: str                      # plural API name: "contacts"
    type_id: str                   # "0-1"
    id_base: int                   # ids are 11-digit numbers: string order == numeric order
    default_properties: tuple[str, ...]
    properties: dict[str, PropDef] = field(default_factory=dict)
    modified_props: tuple[str, ...] = ("hs_lastmodifieddate",)
    search_text_props: tuple[str, ...] = ()
    created_prop: str = "createdate"     # custom objects use hs_createdate
    custom: bool = False

    def add(self, prop: PropDef) -> None:
        self.properties[prop.name] = prop


def _p(name, type_, **kw) -> PropDef:
    return PropDef(name, type_, **kw)


LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                    "opportunity", "customer", "evangelist", "other")
ANALYTICS_SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA",
                     "REFERRALS", "DIRECT_TRAFFIC", "OFFLINE")
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")
STAGE_PROBABILITY = {"appointmentscheduled": "0.2", "qualifiedtobuy": "0.4",
                     "presentationscheduled": "0.6", "decisionmakerboughtin": "0.8",
                     "contractsent": "0.9", "closedwon": "1", "closedlost": "0"}
TICKET_PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")
TICKET_CATEGORIES = ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")
TICKET_STAGES = ("1", "2", "3", "4")   # new, waiting on contact, waiting on us, closed
TICKET_SOURCES = ("EMAIL", "CHAT", "PHONE", "FORM")
SUBSCRIPTION_PLANS = ("basic", "pro", "enterprise")
SUBSCRIPTION_STATUSES = ("active", "past_due", "cancelled")
INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL",
              "MARKETING_AND_ADVERTISING", "EDUCATION_MANAGEMENT", "CONSTRUCTION",
              "TELECOMMUNICATIONS", "LOGISTICS_AND_SUPPLY_CHAIN", "FOOD_BEVERAGES")

_COMMON = (
    _p("hs_object_id", "number", label="Record ID"),
    _p("createdate", "datetime", label="Create Date"),
    _p("hs_lastmodifieddate", "datetime", label="Last Modified Date"),
)


def build_object_types() -> dict[str, ObjectType]:
    """The four CRM objects with their properties, 100 filler properties each."""
    contacts = ObjectType(
        "contacts", "0-1", 10_000_000_000,
        ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        modified_props=("hs_lastmodifieddate", "lastmodifieddate"),
        search_text_props=("email", "firstname", "lastname", "phone", "company"))
    for prop in _COMMON + (
        _p("email", "string", label="Email"),
        _p("firstname", "string", label="First Name"),
        _p("lastname", "string", label="Last Name"),
        _p("phone", "string", label="Phone Number", field_type="phonenumber"),
        _p("company", "string", label="Company Name"),
        _p("lifecyclestage", "enumeration", label="Lifecycle Stage", options=LIFECYCLE_STAGES),
        _p("jobtitle", "string", label="Job Title"),
        _p("city", "string", label="City"),
        _p("country", "string", label="Country/Region"),
        _p("hs_analytics_source", "enumeration", label="Original Source",
           options=ANALYTICS_SOURCES, group="analyticsinformation"),
        _p("utm_campaign", "string", label="UTM Campaign", hubspot_defined=False,
           description="Google Ads campaign id (gads-000001..) for paid-search contacts"),
        _p("associatedcompanyid", "number", label="Primary Associated Company ID"),
        _p("lastmodifieddate", "datetime", label="Last Modified Date"),
        _p("hs_merged_object_ids", "string", label="Merged Contact IDs",
           description="Semicolon-separated ids of the contacts merged into this one"),
    ):
        contacts.add(prop)

    deals = ObjectType(
        "deals", "0-3", 30_000_000_000,
        ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
         "hs_object_id", "pipeline"),
        search_text_props=("dealname",))
    for prop in _COMMON + (
        _p("dealname", "string", label="Deal Name"),
        _p("amount", "number", label="Amount"),
        _p("dealstage", "enumeration", label="Deal Stage", options=DEAL_STAGES),
        _p("pipeline", "enumeration", label="Pipeline", options=("default",)),
        _p("closedate", "datetime", label="Close Date"),
        _p("hs_deal_stage_probability", "number", label="Deal probability"),
        _p("hs_is_closed", "bool", label="Is Deal Closed?"),
        _p("hs_is_closed_won", "bool", label="Is Closed Won"),
        _p("dealtype", "enumeration", label="Deal Type", options=("newbusiness", "existingbusiness")),
    ):
        deals.add(prop)

    companies = ObjectType(
        "companies", "0-2", 20_000_000_000,
        ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        search_text_props=("name", "domain"))
    for prop in _COMMON + (
        _p("name", "string", label="Company name"),
        _p("domain", "string", label="Company Domain Name"),
        _p("industry", "enumeration", label="Industry", options=INDUSTRIES),
        _p("city", "string", label="City"),
        _p("state", "string", label="State/Region"),
        _p("country", "string", label="Country/Region"),
        _p("numberofemployees", "number", label="Number of Employees"),
        _p("annualrevenue", "number", label="Annual Revenue"),
    ):
        companies.add(prop)

    tickets = ObjectType(
        "tickets", "0-5", 40_000_000_000,
        ("content", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_pipeline",
         "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_priority", "subject"),
        search_text_props=("subject", "content"))
    for prop in _COMMON + (
        _p("subject", "string", label="Ticket name"),
        _p("content", "string", label="Ticket description", field_type="textarea"),
        _p("hs_ticket_priority", "enumeration", label="Priority", options=TICKET_PRIORITIES),
        _p("hs_ticket_category", "enumeration", label="Category", options=TICKET_CATEGORIES),
        _p("hs_resolution", "string", label="Resolution"),
        _p("hs_pipeline", "enumeration", label="Pipeline", options=("0",)),
        _p("hs_pipeline_stage", "enumeration", label="Ticket status", options=TICKET_STAGES),
        _p("closed_date", "datetime", label="Close date"),
        _p("time_to_close", "number", label="Time to close (ms)"),
        _p("source_type", "enumeration", label="Source", options=TICKET_SOURCES),
    ):
        tickets.add(prop)

    subscriptions = ObjectType(
        "p_subscriptions", "2-3508482", 50_000_000_000,
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id", "subscription_name"),
        search_text_props=("subscription_name",), created_prop="hs_createdate", custom=True)
    for prop in (
        _p("hs_object_id", "number", label="Record ID"),
        _p("hs_createdate", "datetime", label="Object create date/time"),
        _p("hs_lastmodifieddate", "datetime", label="Object last modified date/time"),
        _p("subscription_name", "string", label="Subscription name", hubspot_defined=False),
        _p("plan", "enumeration", label="Plan", options=SUBSCRIPTION_PLANS, hubspot_defined=False),
        _p("status", "enumeration", label="Status", options=SUBSCRIPTION_STATUSES,
           hubspot_defined=False),
        _p("mrr", "number", label="Monthly recurring revenue", hubspot_defined=False),
        _p("started_on", "date", label="Start date", hubspot_defined=False),
        _p("cancelled_at", "datetime", label="Cancelled at", hubspot_defined=False),
    ):
        subscriptions.add(prop)

    types = {t.name: t for t in (contacts, deals, companies, tickets, subscriptions)}
    for object_type in types.values():
        for i in range(1, FILLER_COUNT[object_type.name] + 1):
            object_type.add(_p(f"hs_custom_field_{i:03d}", "string", label=f"Custom field {i:03d}",
                               group="customfields", hubspot_defined=False))
    return types


ALIASES = {"contact": "contacts", "0-1": "contacts", "company": "companies", "0-2": "companies",
           "deal": "deals", "0-3": "deals", "ticket": "tickets", "0-5": "tickets",
           "2-3508482": "p_subscriptions", "p3508482_subscriptions": "p_subscriptions"}


# --- time -------------------------------------------------------------------------------------

def iso(ms: int) -> str:
    """Epoch milliseconds -> HubSpot's ISO form, e.g. 2026-10-31T23:59:59.123Z."""
    seconds, millis = divmod(int(ms), 1000)
    t = time.gmtime(seconds)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{millis:03d}Z")


def parse_time(value) -> int:
    """Epoch ms (int/float/digit string) or an ISO date/datetime string -> epoch ms."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) == 10:
        text += "T00:00:00Z"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


ANCHOR_MS = parse_time("2026-11-01T00:00:00Z")
DAY_MS = 86_400_000
