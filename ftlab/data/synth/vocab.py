"""Names and numbers the generator draws from, spelled the way engineers and users write them (the model
must copy them into affected_services verbatim), and the small helpers that format them.

A subject is one thing that can break: (name as engineers write it, name as customers say it, what
users do with it, its tier, its kind, the data it holds). The tier says how much its failure can
matter (core: customer-facing and essential; feature: customer-facing, not essential; internal: staff
only); the severity of a report comes from the impact it states, never from the subject's name: every
subject of every tier appears in every severity its tier allows (ftlab/data/synth/incidents.py).
"""
import re

# (name, public name, what users do with it, tier, kind, what it holds)
SUBJECTS = (
    ("checkout-api", "checkout", "check out", "core", "api", "orders"),
    ("auth-service", "login", "log in", "core", "api", "user accounts"),
    ("payments-service", "payments", "pay by card", "core", "api", "payment records"),
    ("orders-service", "ordering", "place orders", "core", "api", "orders"),
    ("api-gateway", "the public API", "call the API", "core", "api", "API keys"),
    ("storefront", "the website", "load the website", "core", "web", "product pages"),
    ("web-app", "the web app", "use the web app", "core", "web", "workspaces"),
    ("booking-api", "bookings", "book appointments", "core", "api", "bookings"),
    ("transfers-service", "money transfers", "send money", "core", "api", "transfers"),
    ("messaging-service", "messaging", "send messages", "core", "api", "messages"),
    ("the iOS app", "the iOS app", "use the iOS app", "core", "app", "user data"),
    ("the Android app", "the Android app", "use the Android app", "core", "app", "user data"),
    ("file-sync", "file sync", "sync their files", "core", "api", "uploaded files"),
    ("ledger-api", "balances", "see their balance", "core", "api", "ledger entries"),
    ("search-api", "search", "search the catalog", "feature", "api", "the search index"),
    ("notifications-service", "notifications", "get notifications", "feature", "job", "notification settings"),
    ("export-worker", "report export", "export reports", "feature", "job", "export files"),
    ("webhooks-dispatcher", "webhooks", "receive webhooks", "feature", "job", "webhook subscriptions"),
    ("invoice-pdf", "invoice downloads", "download invoices", "feature", "job", "invoices"),
    ("recommendations", "recommendations", "see recommendations", "feature", "api", "recommendation models"),
    ("reviews-service", "product reviews", "post reviews", "feature", "api", "reviews"),
    ("avatar-upload", "profile pictures", "upload profile pictures", "feature", "api", "profile pictures"),
    ("calendar-sync", "calendar sync", "sync their calendars", "feature", "job", "calendar links"),
    ("reporting-api", "analytics", "load analytics", "feature", "api", "analytics events"),
    ("email-sender", "emails", "get emails from us", "feature", "job", "email templates"),
    ("admin console", "admin console", "issue refunds", "internal", "tool", "refund records"),
    ("Jenkins", "Jenkins", "run release builds", "internal", "tool", "build artifacts"),
    ("Grafana", "Grafana", "read dashboards", "internal", "tool", "dashboards"),
    ("Argo CD", "Argo CD", "deploy", "internal", "tool", "deploy history"),
    ("the VPN", "the VPN", "reach internal tools", "internal", "tool", "access logs"),
    ("the internal wiki", "the wiki", "read runbooks", "internal", "tool", "runbooks"),
    ("Airflow", "Airflow", "run the nightly pipelines", "internal", "job", "pipeline runs"),
    ("backoffice-ui", "the backoffice", "edit orders", "internal", "tool", "order notes"),
    ("Kibana", "Kibana", "search logs", "internal", "tool", "log indices"),
)
# Open-source projects, for reports filed by their users on an issue tracker (the users are the customers).
# (name, what it is, what users do with it, what it holds)
PROJECTS = (
    ("notehive", "desktop notes app", "write and sync notes", "notes"),
    ("tilecache", "map tile server", "serve map tiles", "tile caches"),
    ("kvlite", "embedded key-value store", "store data", "databases"),
    ("pgsnap", "Postgres backup tool", "back up their databases", "backups"),
    ("routekit", "web framework", "serve their apps", "sessions"),
    ("photoloom", "photo manager", "organise photos", "photo libraries"),
    ("syncbox", "file sync client", "sync folders", "synced folders"),
    ("mailforge", "self-hosted mail server", "send and receive mail", "mailboxes"),
    ("queuebird", "job queue library", "run background jobs", "job queues"),
    ("chartwell", "dashboard tool", "build dashboards", "dashboards"),
    ("ledgerly", "budgeting app", "track their budgets", "transaction history"),
    ("podcastr", "podcast player", "listen to podcasts", "subscriptions"),
    ("formflow", "form builder", "collect form responses", "form responses"),
    ("gitgate", "self-hosted git server", "push and pull code", "repositories"),
    ("shopcart", "e-commerce plugin", "sell online", "orders"),
    ("vaultkey", "password manager", "store passwords", "password vaults"),
)
DATASTORES = ("orders-db", "users-db", "billing-db", "the Postgres primary", "the MySQL primary", "accounts-db",
              "inventory-db", "the Redis cache", "the S3 bucket", "the Elasticsearch cluster", "events-db")
# Named as unaffected (distractors): plausible neighbours that are fine.
BYSTANDERS = ("inventory-service", "pricing-service", "the CDN", "shipping-api", "catalog-service", "fraud-scoring",
              "the Kafka cluster", "the billing batch job", "the status page", "payouts", "the mobile apps",
              "the help center", "the marketing site", "the data warehouse", "the SMS gateway", "the partner API")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "sa-east-1",
           "ca-central-1")
REGION_NAMES = {"us-east-1": "US East", "us-west-2": "US West", "eu-west-1": "Europe (Ireland)",
                "eu-central-1": "Europe (Frankfurt)", "ap-southeast-1": "Singapore", "ap-northeast-1": "Tokyo",
                "sa-east-1": "São Paulo", "ca-central-1": "Canada"}
COMPANIES = (("Shopwave", "shopwave.com"), ("Acme Cloud", "acmecloud.io"), ("Parcelly", "parcelly.com"),
             ("Finlo", "finlo.app"), ("Bookr", "bookr.io"), ("MediSync", "medisync.net"), ("Tally", "tallyhq.com"),
             ("Routewise", "routewise.io"), ("Kitepay", "kitepay.com"), ("Nestly", "nestly.app"),
             ("Orbit Learning", "orbitlearn.com"), ("Cobalt HR", "cobalthr.com"))
CUSTOMERS = ("Acme Logistics", "Northwind Traders", "Globex Retail", "Brightline Health", "Kestrel Labs",
             "Bluefin Travel", "Harbor & Pine", "Umbra Analytics", "Tidewater Foods", "Lumen Schools")
PEOPLE = ("priya", "marco", "jen", "kenji", "sam", "ana", "lukas", "fatima", "tom", "wei", "dmitri", "grace",
          "oluwaseun", "raj", "elena", "ben", "chloe", "yusuf", "mia", "tariq", "ines", "jonas", "keisha", "arjun")
SURNAMES = ("Raman", "Rossi", "Park", "Watanabe", "Okafor", "Lindqvist", "Haddad", "Novak", "Chen", "Ivanova",
            "Mensah", "Kowalski", "Silva", "Brennan", "Nakamura", "Adeyemi", "Fischer", "Moreau", "Singh")
FLAGS = ("new_session_cache", "checkout_v2_pricing", "strict_token_audience", "enable_http2_upstream",
         "batch_ledger_writes", "async_cart_merge", "geo_routing_v3", "use_new_rate_limiter", "lazy_price_lookup")
PROXIES = ("edge proxy", "nginx ingress", "Envoy sidecars", "HAProxy tier", "API gateway config", "WAF rules")
PLATFORMS = ("Windows 11", "macOS 15", "Ubuntu 24.04", "Debian 12", "Fedora 41", "Android 14", "iOS 18",
             "Windows 10", "macOS 14", "Arch Linux")
BROWSERS = ("Safari 17", "Firefox ESR", "Chrome on Android", "Safari on iOS 16", "Edge", "Firefox 128")
SECRETS = ("an AWS access key", "the Stripe live secret key", "a GitHub deploy token", "the Postgres password",
           "a Slack bot token", "the SendGrid API key", "a Google service-account key", "the JWT signing key")
PII = ("names and email addresses", "shipping addresses", "phone numbers", "order histories", "invoices",
       "passport scans", "date of birth and address", "support chat transcripts")

_ALT = re.compile(r"\[\[(.*?)\|(.*?)\]\]")


def tense(text: str, past: bool) -> str:
    """Resolve every [[present|past]] alternative of a template."""
    return _ALT.sub(lambda m: m.group(2 if past else 1), text)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def hm(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def pct(r, lo: float, hi: float) -> str:
    v = r.uniform(lo, hi)
    return f"{v:.1f}%" if v < 10 else f"{round(v)}%"


def num(r, lo: int, hi: int) -> str:
    return f"{r.randint(lo, hi):,}"


def version(r) -> str:
    return f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 12)}"


def person(r) -> str:
    return f"{cap(r.choice(PEOPLE))} {r.choice(SURNAMES)}"


def duration(r, lo: int, hi: int) -> str:
    """A stated duration between lo and hi minutes, as people write it."""
    m = r.randint(lo, hi)
    if m < 2:
        return f"{r.randint(20, 90)} seconds"
    if m < 90:
        return f"{m} minutes"
    return f"{m // 60} hours" if m % 60 < 15 else f"{m // 60}h{m % 60:02d}m"
