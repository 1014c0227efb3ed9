"""Constants of the HubSpot source: API paths, limits HubSpot documents, bronze column names."""
from __future__ import annotations

SOURCE = "hubspot"

# API paths (object paths come from the catalog's entries)
PROPERTIES_PATH = "/crm/v3/properties/{object_type}"
V4_BATCH_READ_PATH = "/crm/v4/associations/{from_type}/{to_type}/batch/read"
V4_RECORD_ASSOCIATIONS_PATH = "/crm/v4/objects/{from_type}/{record_id}/associations/{to_type}"

# Limits HubSpot documents
LIST_PAGE_MAX = 100                 # GET /crm/v3/objects/{type}?limit=
BATCH_READ_MAX = 100                # POST /crm/v3/objects/{type}/batch/read inputs
SEARCH_PAGE_MAX = 200               # POST /crm/v3/objects/{type}/search limit
ASSOCIATION_BATCH_MAX = 1000        # POST /crm/v4/associations/{from}/{to}/batch/read inputs
ASSOCIATION_PAGE_MAX = 500          # GET /crm/v4/objects/{type}/{id}/associations/{to}?limit=
# A GET URL longer than this is split: the rest of the properties come through batch read (POST).
# HubSpot answers 414 somewhere above 8,000 characters; stay well below (data_sources.hubspot.
# max_url_length overrides it; a 414 anyway halves the properties per URL for the rest of the run).
MAX_URL_LENGTH = 4000
# An answer without `results`, or a batch answer with an error other than these, is asked again
# this many times in all before the object fails: it is never taken as the end of the data.
ODD_ANSWER_ATTEMPTS = 3
SKIPPED_ERRORS = ("OBJECT_NOT_FOUND",)  # a batch read's gone record, or a record with no associations

# Records landed (MERGEd into bronze) per checkpoint: an interrupted run resumes after the last
# checkpoint instead of starting the object again.
CHECKPOINT_RECORDS = 50_000
# Progress lines while extracting: at most one per this many seconds per object.
PROGRESS_SECONDS = 5.0

# Retries on 429/5xx/dropped connections (dlt's requests Client), before a request is given up
REQUEST_MAX_ATTEMPTS = 8
REQUEST_BACKOFF_FACTOR = 1.0
REQUEST_MAX_RETRY_DELAY = 60.0

# Client-side budgets: HubSpot counts a rolling window; keep a margin for clock skew between
# our send time and its arrival time.
GENERAL_INTERVAL_SECONDS = 10.0
SEARCH_INTERVAL_SECONDS = 1.0
BUDGET_PAD_SECONDS = 0.25

# Properties every object needs whatever the configuration lists
ALWAYS_PROPERTIES = ("hs_object_id", "createdate")
MERGED_IDS_PROPERTY = "hs_merged_object_ids"
ID_PROPERTY = "hs_object_id"

# HubSpot property type -> dlt data type (bronze column type)
DLT_TYPES = {
    "number": "double",
    "datetime": "timestamp",
    "date": "date",
    "bool": "bool",
}
DEFAULT_DLT_TYPE = "text"          # string, enumeration, phone_number, json, object_coordinates...

# System columns of an object table (a property with one of these names lands as property_<name>)
RECORD_COLUMNS = {
    "id": {"data_type": "text", "nullable": True},
    "created_at": {"data_type": "timestamp", "nullable": True},
    "updated_at": {"data_type": "timestamp", "nullable": True},
    "archived": {"data_type": "bool", "nullable": True},
    "archived_at": {"data_type": "timestamp", "nullable": True},
    "_is_deleted": {"data_type": "bool", "nullable": True},
    "_raw_values": {"data_type": "text", "nullable": True},
}
RESERVED_COLUMNS = frozenset(RECORD_COLUMNS) | {"_loaded_at", "_load_id"}

ASSOCIATION_COLUMNS = {
    "from_id": {"data_type": "text", "nullable": True},
    "to_id": {"data_type": "text", "nullable": True},
    "association_type_id": {"data_type": "bigint", "precision": 32, "nullable": True},
    "association_category": {"data_type": "text", "nullable": True},
    "association_label": {"data_type": "text", "nullable": True},
    "_is_deleted": {"data_type": "bool", "nullable": True},
}
ASSOCIATION_KEYS = ("from_id", "to_id", "association_type_id")
