-- The three source tables as they exist in Redshift (schema public). The column names and
-- types are a contract the loaders code against: Redshift-compatible types only.
-- Statements are separated by ';' at line end: the driver runs one statement per execute.

CREATE TABLE public.marketing_campaigns (
    campaign_id       varchar(32),
    date              date,
    campaign_name     varchar(256),
    channel           varchar(32),
    status            varchar(16),
    budget            numeric(12,2),
    spend             numeric(12,2),
    impressions       bigint,
    clicks            bigint,
    conversions       integer,
    conversion_value  numeric(14,2),
    currency          varchar(3),
    created_at        timestamp,
    updated_at        timestamp
);

CREATE TABLE public.customer_behavior (
    event_id            varchar(64),
    user_id             varchar(64),
    device_id           varchar(64),
    event_name          varchar(128),
    event_timestamp     timestamptz,
    session_id          bigint,
    page_url            varchar(2048),
    device_type         varchar(32),
    platform            varchar(32),
    country             varchar(64),
    city                varchar(128),
    revenue             numeric(12,2),
    event_properties    varchar(65535),
    server_received_at  timestamptz
);

CREATE TABLE public.web_analytics (
    date                  date,
    page_path             varchar(1024),
    page_title            varchar(512),
    sessions              integer,
    users                 integer,
    new_users             integer,
    pageviews             integer,
    bounce_rate           numeric(6,4),
    avg_session_duration  numeric(10,2),
    conversions           integer,
    revenue               numeric(14,2),
    updated_at            timestamp
);
