"""A simulated world written as the vendors' exports, with the sources file that reads them back.

``write_layout(contract_dir, out_dir, "zendesk+stripe+events")`` reads the contract tables
the simulator wrote (``customers.*`` and ``interactions.*``, validated by :func:`cxlib.load`)
and writes each in the layout of the templates in ``cxlib/data/sources/templates/``, beside a
``sources.yaml`` made of those templates. Loading that file gives the contract back: the
same customers (monthly values to the cent), and the same interactions up to what the
vendors do not record (Zendesk rates csat good/bad, ticket metrics count whole minutes,
events carry no csat). So the churn panel and its hazard ratios are the same, which is what
the round-trip tests check.

Parts of a layout, joined with ``+``:

- ``stripe`` (required): customers as Stripe subscriptions and customers;
- ``zendesk`` or ``salesforce`` (one of them): service contacts as tickets or cases;
- ``events`` (required): experiences as Segment tracks (Parquet);
- ``orders``: delivery experiences as an order table instead of events;
- ``nps``: the experiences' NPS answers as a survey export (each answer an extra, neutral
  experience on the touchpoint ``survey``, as the template records them).

Every id is derived from the contract's (a Stripe customer ``cus_0000042`` for account
``0000042``, a Zendesk ticket id from the interaction's number), so a layout is a pure function
of the world: same world, same files.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cxlib.data.load import load
from cxlib.data.sources import template_path
from cxlib.data.sources.spec import safe_load

SERVICE = ("zendesk", "salesforce")
PARTS = ("stripe", "zendesk", "salesforce", "events", "orders", "nps")
LAYOUTS = ("zendesk+stripe+events", "salesforce+stripe+events", "zendesk+stripe+events+orders+nps",
           "salesforce+stripe+events+orders+nps")

ZENDESK_USER_BASE = 360_000_000_000
_TOUCHPOINT_EVENTS = {"onboarding": "Signup Completed", "website": "Page Viewed", "app": "App Opened",
                      "billing": "Invoice Sent", "delivery": "Order Delivered", "store_visit": "Store Visited"}
_ERRORS = {"onboarding": "signup_failed", "website": "page_timeout", "app": "app_crash",
           "billing": "payment_failed", "delivery": "delivery_failed", "store_visit": "out_of_stock"}
_VIA = {"phone": "voice", "chat": "chat", "email": "email"}
_REASONS = {"onboarding": "Onboarding", "website": "Website", "app": "App", "billing": "Billing",
            "delivery": "Delivery", "store_visit": "Store Visit", "how_to": "How To"}


def parts_of(layout: str) -> list[str]:
    """The parts of a layout name, checked: stripe, events and one help desk are required."""
    parts = [p.strip() for p in layout.split("+") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown layout part {unknown[0]!r}: parts are {', '.join(PARTS)}")
    if "stripe" not in parts or "events" not in parts or sum(p in SERVICE for p in parts) != 1:
        raise ValueError(f"a layout has stripe, events and one of {', '.join(SERVICE)} (e.g. {LAYOUTS[0]}), "
                         f"not {layout!r}")
    return parts


def _case(mapping: dict, column: str) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


def _iso(column: str) -> str:
    return f"strftime({column}, '%Y-%m-%dT%H:%M:%SZ')"


def write_layout(contract_dir, out_dir, layout: str) -> Path:
    """Write the world in ``contract_dir`` into ``out_dir`` in ``layout``; return the sources file."""
    parts = parts_of(layout)
    out = Path(out_dir)
    for part in parts:
        (out / part).mkdir(parents=True, exist_ok=True)
    with load(contract_dir, strict=True) as data:
        con = data.con
        number = "CAST(substr(interaction_id, 2) AS BIGINT)"
        odd = "hash(interaction_id) % 2 = 1"  # which of two equivalent statuses a row gets

        def copy(sql: str, path: Path, fmt: str) -> None:
            options = {"csv": "FORMAT CSV, HEADER", "json": "FORMAT JSON", "parquet": "FORMAT PARQUET"}[fmt]
            con.execute(f"COPY ({sql}) TO '{str(path).replace(chr(39), chr(39) * 2)}' ({options})")

        copy("""SELECT 'cus_' || customer_id AS id, 'customer' || customer_id || '@example.com' AS email,
                       customer_id AS "metadata.account_id" FROM customers ORDER BY customer_id""",
             out / "stripe" / "customers.csv", "csv")
        copy("""SELECT 'sub_' || customer_id AS id, 'cus_' || customer_id AS customer,
                       CASE WHEN churned_at IS NULL THEN 'active' ELSE 'canceled' END AS status,
                       CAST(epoch(signup_at) AS BIGINT) AS created,
                       CAST(epoch(churned_at) AS BIGINT) AS canceled_at, CAST(epoch(churned_at) AS BIGINT) AS ended_at,
                       CAST(round(monthly_value * CASE segment WHEN 'enterprise' THEN 1200 ELSE 100 END) AS BIGINT)
                           AS "plan.amount",
                       CASE segment WHEN 'enterprise' THEN 'year' ELSE 'month' END AS "plan.interval",
                       1 AS "plan.interval_count", segment AS "metadata.segment"
                FROM customers ORDER BY customer_id""",
             out / "stripe" / "subscriptions.csv", "csv")
        service = "kind = 'service'"
        if "zendesk" in parts:
            copy(f"""SELECT {ZENDESK_USER_BASE} + CAST(customer_id AS BIGINT) AS id, customer_id AS external_id,
                            'customer' || customer_id || '@example.com' AS email FROM customers ORDER BY customer_id""",
                 out / "zendesk" / "users.jsonl", "json")
            copy(f"""SELECT {number} AS id, {ZENDESK_USER_BASE} + CAST(customer_id AS BIGINT) AS requester_id,
                            {_iso('"at"')} AS created_at,
                            CASE WHEN resolved THEN (CASE WHEN {odd} THEN 'closed' ELSE 'solved' END)
                                 ELSE (CASE WHEN {odd} THEN 'pending' ELSE 'open' END) END AS status,
                            CASE WHEN touchpoint = 'how_to' THEN 'question' ELSE 'problem' END AS type,
                            [touchpoint] AS tags,
                            {{'channel': {_case(_VIA, 'channel')}}} AS via,
                            {{'score': CASE WHEN csat >= 4 THEN 'good' WHEN csat <= 2 THEN 'bad'
                                            WHEN csat = 3 THEN 'offered' ELSE 'unoffered' END}} AS satisfaction_rating
                     FROM interactions WHERE {service} ORDER BY "at", interaction_id""",
                 out / "zendesk" / "tickets.jsonl", "json")
            copy(f"""SELECT {number} + 7000000000 AS id, {number} AS ticket_id,
                            CASE WHEN resolved THEN {_iso('"at" + INTERVAL 1 HOUR')} END AS solved_at,
                            {{'calendar': CAST(round(first_response_minutes) AS BIGINT),
                              'business': CAST(round(first_response_minutes) AS BIGINT)}} AS reply_time_in_minutes
                     FROM interactions WHERE {service} ORDER BY ticket_id""",
                 out / "zendesk" / "ticket_metrics.jsonl", "json")
        if "salesforce" in parts:
            copy("""SELECT '001' || lpad(customer_id, 15, '0') AS Id, customer_id AS AccountNumber
                    FROM customers ORDER BY customer_id""", out / "salesforce" / "accounts.csv", "csv")
            copy(f"""SELECT '500' || lpad(CAST({number} AS VARCHAR), 15, '0') AS Id,
                            lpad(CAST({number} AS VARCHAR), 10, '0') AS CaseNumber,
                            '001' || lpad(customer_id, 15, '0') AS AccountId,
                            {_case({'phone': 'Phone', 'email': 'Email', 'chat': 'Chat'}, 'channel')} AS Origin,
                            CASE WHEN resolved THEN 'Closed' WHEN hash(interaction_id) % 2 = 0 THEN 'Escalated'
                                 ELSE 'Working' END AS Status,
                            CASE WHEN resolved THEN 'true' ELSE 'false' END AS IsClosed,
                            CASE WHEN resolved THEN strftime("at" + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%S.000Z') END
                                AS ClosedDate,
                            strftime("at", '%Y-%m-%dT%H:%M:%S.000Z') AS CreatedDate,
                            {_case(_REASONS, 'touchpoint')} AS Reason,
                            CASE WHEN touchpoint = 'how_to' THEN 'Question' ELSE 'Problem' END AS Type
                     FROM interactions WHERE {service} ORDER BY "at", interaction_id""",
                 out / "salesforce" / "cases.csv", "csv")
        experience = "kind = 'experience'"
        if "orders" in parts:  # a bad delivery came 3 days after its promise, the others a day early
            promised = "\"at\" + CASE WHEN outcome = 'bad' THEN INTERVAL '-3 days' ELSE INTERVAL '1 day' END"
            copy(f"""SELECT {number} AS order_id, customer_id,
                            {_iso('"at" - INTERVAL 5 DAY')} AS ordered_at,
                            {_iso(promised)} AS promised_at,
                            {_iso('"at"')} AS delivered_at, 'delivered' AS status, channel,
                            CASE WHEN outcome = 'good' THEN 5 END AS review_stars
                     FROM interactions WHERE {experience} AND touchpoint = 'delivery' ORDER BY "at", interaction_id""",
                 out / "orders" / "orders.csv", "csv")
            experience += " AND touchpoint <> 'delivery'"
        copy(f"""SELECT 'msg-' || interaction_id AS messageId, 'track' AS type, customer_id AS userId,
                        {_case(_TOUCHPOINT_EVENTS, 'touchpoint')} AS event,
                        CAST("at" AS TIMESTAMPTZ) AS "timestamp",
                        {{'channel': channel,
                          'error': CASE WHEN outcome = 'bad' THEN {_case(_ERRORS, 'touchpoint')} END,
                          'satisfied': CASE WHEN outcome = 'good' THEN true END}} AS properties
                 FROM interactions WHERE {experience} ORDER BY "at", interaction_id""",
             out / "events" / "tracks.parquet", "parquet")
        if "nps" in parts:
            copy(f"""SELECT {number} AS response_id, 'customer' || customer_id || '@example.com' AS email,
                            nps AS score, {_iso('"at"')} AS responded_at, 'email' AS channel
                     FROM interactions WHERE kind = 'experience' AND nps IS NOT NULL ORDER BY "at", interaction_id""",
                 out / "nps" / "responses.csv", "csv")
    return write_sources_file(out / "sources.yaml", parts)


def write_sources_file(path: Path, parts) -> Path:
    """One sources file made of the templates of ``parts`` (their lookups and sources merged)."""
    merged = {"version": 1, "lookups": {}, "sources": {}}
    for part in parts:
        doc = safe_load(template_path(part))
        for key in ("lookups", "sources"):
            for name, spec in (doc.get(key) or {}).items():
                if name in merged[key]:
                    raise ValueError(f"templates define {key[:-1]} {name!r} twice")
                merged[key][name] = spec
    header = (f"# Sources file for the layout {'+'.join(parts)}, made of cxlib's templates "
              f"({', '.join(f'cxlib/data/sources/templates/{p}.yaml' for p in parts)}: their comments say\n"
              "# which vendor fields each rule relies on). Paths are relative to this file.\n")
    path.write_text(header + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return path
