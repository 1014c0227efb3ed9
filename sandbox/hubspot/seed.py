"""Deterministic CRM data: the same seed, scale and anchor always give the same records.

Dirty data is injected at fixed rates (see README); `/_sandbox/manifest` counts what landed.
"""
from __future__ import annotations

import functools
import random
import unicodedata

from .schema import (ANALYTICS_SOURCES, ANCHOR_MS, DAY_MS, DEAL_STAGES, INDUSTRIES,
                     LIFECYCLE_STAGES, STAGE_PROBABILITY, SUBSCRIPTION_PLANS, TICKET_CATEGORIES,
                     TICKET_PRIORITIES, iso)
from .store import Store, merge_contacts

FIRST = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
         "Sarah", "Daniel", "Karen", "Emma", "Noah", "Olivia", "Liam", "Ava", "Lucas", "Mia",
         "Ethan", "Priya", "Arjun", "Wei", "Yuki", "Fatima", "Omar", "Ines", "Pedro")
FIRST_UNICODE = ("Zoë", "José", "Søren", "Łukasz", "François", "Björn", "Chloé", "Renée",
                 "Jürgen", "Siobhán", "Ngọc Anh", "Đức", "李", "Анна", "محمد", "Çağla", "Ōtani")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
        "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Clark", "Lewis", "Walker",
        "Hall", "Young", "King", "Wright", "Lopez", "Hill", "Green", "Adams", "Baker", "Nelson",
        "Patel", "Chen", "Kim", "Singh", "O'Brien", "van der Berg", "Smith-Jones")
LAST_UNICODE = ("Müller", "Gómez", "Nuñez", "Østergård", "Dvořák", "Kowalczyk-Łęcka",
                "Nguyễn", "王", "Иванова", "Ferreira da Conceição", "Çelik", "Şahin")
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
                 "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Aperture", "Massive", "Dynamic",
                 "Blue", "North", "Bright", "Quantum", "Summit", "Pioneer", "Vertex", "Nimbus")
COMPANY_UNICODE = ("Müller", "Société", "Ørsted", "Škoda", "Nordström", "Café", "Zürich")
COMPANY_SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "Group", "Labs", "Systems", "& Co.", "S.A.")
PLACES = (("Boston", "Massachusetts", "United States"), ("Austin", "Texas", "United States"),
          ("San Francisco", "California", "United States"), ("Chicago", "Illinois", "United States"),
          ("New York", "New York", "United States"), ("Toronto", "Ontario", "Canada"),
          ("London", "England", "United Kingdom"), ("Berlin", "Berlin", "Germany"),
          ("München", "Bavaria", "Germany"), ("Paris", "Île-de-France", "France"),
          ("São Paulo", "São Paulo", "Brazil"), ("Kraków", "Lesser Poland", "Poland"),
          ("Sydney", "New South Wales", "Australia"), ("Bengaluru", "Karnataka", "India"),
          ("Tokyo", "Tokyo", "Japan"), ("Dublin", "Leinster", "Ireland"))
JOB_TITLES = ("Marketing Manager", "VP Sales", "Data Engineer", "CTO", "Head of Growth",
              "Account Executive", "Product Manager", "CFO", "Operations Lead", "Analyst")
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "proton.me", "web.de")
TLDS = ("com", "io", "co", "de", "net", "co.uk")
PRODUCTS = ("Platform licence", "Annual renewal", "Expansion seats", "Onboarding package",
            "Enterprise plan", "Pilot", "Support upgrade")
TICKET_SUBJECTS = ("Cannot log in", "Invoice shows wrong amount", "Feature request: export to CSV",
                   "Dashboard is slow", "Question about pricing", "API returns 500",
                   "Refund request", "SSO configuration", "Données manquantes dans le rapport",
                   "Webhook not firing")
RESOLUTIONS = ("ISSUE_FIXED", "ANSWERED", "DUPLICATE", "WONT_FIX", "USER_ERROR")
INVALID_EMAILS = ("not-an-email", "a@b", "")

BIG_COMPANY_CONTACTS = 160   # one company with more associations than the v3 embed cap of 100
BIG_COMPANY_DEALS = 110


@functools.lru_cache(maxsize=4096)
def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def fmt_number(rng: random.Random, value: int) -> str:
    """Mostly '67340'; sometimes '67340.0' or scientific '1.2E4' like exports and imports leave."""
    roll = rng.random()
    if roll < 0.06:
        return f"{value}.0"
    if roll < 0.09 and value >= 100:
        exponent = len(str(value)) - 1
        return f"{round(value / 10 ** exponent, 1)}E{exponent}"
    return str(value)


def maybe(rng: random.Random, value, null_rate: float, empty_rate: float = 0.0):
    roll = rng.random()
    if roll < null_rate:
        return None
    if roll < null_rate + empty_rate:
        return ""
    return value


def fillers(rng: random.Random) -> dict:
    props = {}
    for i in (1, 2, 3, 7, 42):
        if rng.random() < 0.08:
            props[f"hs_custom_field_{i:03d}"] = f"value-{rng.randint(1, 999)}"
    return props


def random_times(rng: random.Random, start: int, end: int) -> tuple[int, int]:
    created = rng.randint(start, end - 2)
    return created, rng.randint(created, end - 1)


def company_props(rng: random.Random) -> dict:
    word = rng.choice(COMPANY_UNICODE if rng.random() < 0.08 else COMPANY_WORDS)
    name = f"{word} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}"
    city, state, country = rng.choice(PLACES)
    return {
        "name": name,
        "domain": maybe(rng, f"{slug(name)[:18]}{rng.randint(1, 99)}.{rng.choice(TLDS)}", 0.05, 0.02),
        "industry": maybe(rng, rng.choice(INDUSTRIES), 0.08),
        "city": maybe(rng, city, 0.05, 0.02),
        "state": maybe(rng, state, 0.1, 0.02),
        "country": maybe(rng, country, 0.03),
        "numberofemployees": maybe(rng, fmt_number(rng, rng.choice((5, 12, 40, 150, 800, 4200))
                                                   + rng.randint(0, 30)), 0.1),
        "annualrevenue": maybe(rng, fmt_number(rng, rng.randint(50, 50_000) * 1000), 0.15, 0.02),
        **fillers(rng),
    }


def contact_props(rng: random.Random, company: dict | None, company_id: int | None) -> dict:
    first = rng.choice(FIRST_UNICODE if rng.random() < 0.08 else FIRST)
    last = rng.choice(LAST_UNICODE if rng.random() < 0.06 else LAST)
    domain = company["domain"] if company and company.get("domain") and rng.random() < 0.7 \
        else rng.choice(FREE_MAIL)
    email = f"{slug(first) or 'user'}.{slug(last) or 'contact'}{rng.randint(1, 9999)}@{domain}"
    source = rng.choices(ANALYTICS_SOURCES, weights=(30, 20, 15, 10, 10, 10, 5))[0]
    city, _, country = rng.choice(PLACES)
    return {
        "email": email,
        "firstname": maybe(rng, first, 0.02),
        "lastname": maybe(rng, last, 0.02),
        "phone": maybe(rng, rng.choice(("+1 617-555-{:04d}", "(555) 010-{:04d}", "+44 20 7946 {:04d}",
                                        "555{:04d}")).format(rng.randint(0, 9999)), 0.15, 0.03),
        "company": (company or {}).get("name") if company else None,
        "lifecyclestage": rng.choices(LIFECYCLE_STAGES, weights=(15, 30, 15, 10, 10, 15, 2, 3))[0],
        "jobtitle": maybe(rng, rng.choice(JOB_TITLES), 0.2, 0.02),
        "city": maybe(rng, city, 0.1, 0.02),
        "country": maybe(rng, country, 0.05),
        "hs_analytics_source": source,
        "utm_campaign": f"gads-{rng.randint(1, 30):06d}" if source == "PAID_SEARCH" else None,
        "associatedcompanyid": str(company_id) if company_id else None,
        **fillers(rng),
    }


def deal_stage_props(stage: str) -> dict:
    return {"dealstage": stage, "hs_deal_stage_probability": STAGE_PROBABILITY[stage],
            "hs_is_closed": "true" if stage in ("closedwon", "closedlost") else "false",
            "hs_is_closed_won": "true" if stage == "closedwon" else "false"}


def deal_props(rng: random.Random, company_name: str | None, created: int, now: int) -> dict:
    stage = rng.choices(DEAL_STAGES, weights=(12, 12, 10, 8, 8, 30, 20))[0]
    closed = stage in ("closedwon", "closedlost")
    close = rng.randint(created, max(created, now - 1)) if closed \
        else now + rng.randint(1, 120) * DAY_MS
    return {
        "dealname": f"{company_name or 'Unknown'} - {rng.choice(PRODUCTS)}",
        "amount": fmt_number(rng, rng.randint(5, 400) * 250),
        "pipeline": "default",
        "closedate": iso(close),
        "dealtype": maybe(rng, rng.choice(("newbusiness",) * 7 + ("existingbusiness",) * 3), 0.05),
        **deal_stage_props(stage),
        **fillers(rng),
    }


def ticket_close_props(rng: random.Random, created: int, closed: int) -> dict:
    return {"hs_pipeline_stage": "4", "closed_date": iso(closed),
            "time_to_close": str(closed - created), "hs_resolution": rng.choice(RESOLUTIONS)}


def ticket_props(rng: random.Random, created: int, now: int) -> dict:
    subject = rng.choice(TICKET_SUBJECTS)
    props = {
        "subject": subject,
        "content": maybe(rng, f'Customer wrote: "{subject.lower()}", since {iso(created)[:10]}.\n'
                              f"Steps: 1) open app, 2) click → export; ünïcode ✓", 0.05, 0.03),
        "hs_ticket_priority": rng.choices(TICKET_PRIORITIES, weights=(30, 40, 20, 10))[0],
        "hs_ticket_category": maybe(rng, rng.choice(TICKET_CATEGORIES), 0.05),
        "hs_pipeline": "0",
        "hs_pipeline_stage": rng.choices(("1", "2", "3", "4"), weights=(20, 10, 15, 55))[0],
        "source_type": rng.choice(("EMAIL", "CHAT", "PHONE", "FORM")),
        **fillers(rng),
    }
    if props["hs_pipeline_stage"] == "4":
        props.update(ticket_close_props(rng, created, rng.randint(created + 60_000, max(created + 60_000, now - 1))))
    return props


def subscription_props(rng: random.Random, created: int, now: int) -> dict:
    plan = rng.choice(SUBSCRIPTION_PLANS)
    status = rng.choices(("active", "past_due", "cancelled"), weights=(70, 10, 20))[0]
    return {
        "subscription_name": f"{plan.title()} plan #{rng.randint(1000, 99999)}",
        "plan": plan,
        "status": status,
        "mrr": fmt_number(rng, {"basic": 49, "pro": 199, "enterprise": 1490}[plan] * rng.randint(1, 20)),
        "started_on": iso(created)[:10],
        "cancelled_at": iso(rng.randint(created, max(created, now - 1))) if status == "cancelled" else None,
        **fillers(rng),
    }


def new_id(store: Store, obj: str, rng: random.Random) -> int:
    return store.next_id[obj] + rng.randint(0, 2)   # ids have gaps, as in a real portal


def seed_store(seed: int = 42, scale: float = 1, contacts: int | None = None,
               anchor_ms: int = ANCHOR_MS) -> Store:
    """Build the initial portal: companies, contacts, deals, tickets and their associations."""
    store = Store(now=anchor_ms)
    store.meta = {"seed": seed, "scale": scale, "contacts_override": contacts,
                  "anchor": iso(anchor_ms)}
    for obj, otype in store.types.items():
        store.next_id[obj] = otype.id_base + 1
        store.records[obj], store.order[obj] = {}, []
    start = anchor_ms - 365 * DAY_MS
    n_companies = max(4, round(300 * scale))
    n_contacts = contacts if contacts is not None else max(10, round(2000 * scale))
    n_deals, n_tickets = max(4, round(800 * scale)), max(4, round(600 * scale))

    rng = random.Random(f"{seed}:companies")
    companies = []
    for _ in range(n_companies):
        created, updated = random_times(rng, start, anchor_ms)
        companies.append(store.add_record("companies", company_props(rng), created, updated,
                                          new_id(store, "companies", rng)))
    big = companies[0]
    store.meta["big_company_id"] = str(big.id)

    rng = random.Random(f"{seed}:contacts")
    big_members = set(rng.sample(range(n_contacts), min(BIG_COMPANY_CONTACTS, n_contacts // 3)))
    contact_records, valid_emails = [], []
    for i in range(n_contacts):
        company = big if i in big_members else (
            rng.choice(companies[1:]) if rng.random() < 0.9 else None)
        props = contact_props(rng, company.props if company else None, company.id if company else None)
        roll = rng.random()
        if roll < 0.03:
            props["email"] = rng.choice(INVALID_EMAILS)
        elif roll < 0.04 and valid_emails:
            twin = rng.choice(valid_emails)
            props["email"] = twin.upper() if rng.random() < 0.4 else twin
        elif roll < 0.045:
            props["email"] = None
        else:
            valid_emails.append(props["email"])
        created, updated = random_times(rng, start, anchor_ms)
        record = store.add_record("contacts", props, created, updated, new_id(store, "contacts", rng))
        contact_records.append(record)
        if company:
            store.associate("contacts", record.id, "companies", company.id, primary=True)
        if rng.random() < 0.03:
            store.associate("contacts", record.id, "companies", rng.choice(companies[1:]).id)

    rng = random.Random(f"{seed}:deals")
    big_deals = set(rng.sample(range(n_deals), min(BIG_COMPANY_DEALS, n_deals // 4)))
    for i in range(n_deals):
        company = big if i in big_deals else (rng.choice(companies[1:]) if rng.random() < 0.95 else None)
        created, updated = random_times(rng, start, anchor_ms)
        props = deal_props(rng, company.props.get("name") if company else None, created, anchor_ms)
        if rng.random() < 0.05:
            props["amount"] = "" if rng.random() < 0.2 else None
            if rng.random() < 0.35:
                props.update(deal_stage_props("closedwon"))
        record = store.add_record("deals", props, created, updated, new_id(store, "deals", rng))
        if company:
            store.associate("deals", record.id, "companies", company.id, primary=True)
        if rng.random() < 0.95:
            pool = [cid for cid, _ in store.associated("companies", company.id, "contacts")] \
                if company else []
            for _ in range(rng.randint(1, 3)):
                target = rng.choice(pool) if pool and rng.random() < 0.8 \
                    else rng.choice(contact_records).id
                store.associate("deals", record.id, "contacts", target)

    rng = random.Random(f"{seed}:tickets")
    for _ in range(n_tickets):
        created, updated = random_times(rng, start, anchor_ms)
        props = ticket_props(rng, created, anchor_ms)
        if props.get("closed_date"):
            updated = max(updated, created + int(props["time_to_close"]))
        record = store.add_record("tickets", props, created, min(updated, anchor_ms - 1),
                                  new_id(store, "tickets", rng))
        contact = rng.choice(contact_records) if rng.random() < 0.92 else None
        if contact:
            store.associate("tickets", record.id, "contacts", contact.id)
        companies_of = store.associated("contacts", contact.id, "companies") if contact else []
        primary = [cid for cid, is_primary in companies_of if is_primary]
        if primary and rng.random() < 0.9:
            store.associate("tickets", record.id, "companies", primary[0], primary=True)
        elif rng.random() < 0.3:
            store.associate("tickets", record.id, "companies", rng.choice(companies[1:]).id,
                            primary=True)

    rng = random.Random(f"{seed}:subscriptions")
    for _ in range(max(4, round(400 * scale))):
        created, updated = random_times(rng, start, anchor_ms)
        record = store.add_record("p_subscriptions", subscription_props(rng, created, anchor_ms),
                                  created, updated, new_id(store, "p_subscriptions", rng))
        store.associate("p_subscriptions", record.id, "contacts", rng.choice(contact_records).id)

    rng = random.Random(f"{seed}:lifecycle")
    for obj in ("companies", "contacts", "deals", "tickets", "p_subscriptions"):
        for record_id in list(store.order[obj]):
            record = store.records[obj][record_id]
            if record.id == big.id or not record.visible or rng.random() >= 0.02:
                continue
            record.archived = True
            record.archived_at = rng.randint(record.updated, anchor_ms - 1)
    candidates = [r for r in contact_records if r.visible]
    for _ in range(max(1, n_contacts // 200)):
        survivor, merged = rng.sample(candidates, 2)
        if survivor.visible and merged.visible:
            merge_contacts(store, survivor, merged, rng.randint(max(survivor.updated, merged.updated),
                                                                anchor_ms - 1), wall=0.0)
    return store
