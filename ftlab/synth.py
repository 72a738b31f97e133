"""The `template` backend of the generate_data stage: synthetic incident reports with gold triage.

    generate(n_rows, seed) -> [{"id", "style", "severity", "category", "report", "triage",
                                "hard_cases", "distractors"}, ...]

`triage` is the gold answer of ../shared/triage-spec.md (it passes ftlab.triage.validate); `severity`
and `category` repeat its labels for balance checks. Pure stdlib, and a function of (n_rows, seed) only:
every draw goes through one random.Random(seed), nothing depends on time, hash() or set order.

How a row is made
  1. Cell and style. Rows cycle over the 16 severity x category cells (counts differ by at most 1); each
     pass over the cells takes the next style of a shuffled STYLES, so every 96 rows hold each
     (cell, style) pair once. The finished list is shuffled with the same rng.
  2. Scenario. SCENARIOS[(severity, category)] lists one function per situation (a core API hard down,
     a phishing mail nobody clicked, a migration that corrupted orders...). It draws the services,
     numbers and cause and returns the facts in two registers:
       engineering: "lead" (the symptom, subject first), "impact", "facts", "cause", "extra", written
                    with [[present|past]] alternatives so that a postmortem can reuse them;
       customer:    "cust" (status-page voice and the customer's own voice), when customers could notice.
     The label is the rubric's verdict on those facts, so a scenario decides its own cell; the renderer
     only frames the facts and never adds or drops impact.
  3. Distractor (often). A service named as NOT affected, a normal metric or an unrelated change.
  4. Renderer, one per style: alert (Alertmanager, Datadog, PagerDuty, CloudWatch, Grafana, security
     tools), chat (Slack: lowercase, abbreviations, typos, several speakers), ticket (Zendesk from a
     customer, Jira from an engineer; the stated priority may disagree with the truth), postmortem
     (past tense, timeline, root cause), status_page (public or internal) and email (customer
     escalation or internal note).
     Some chat, alert, email, ticket and internal-status rows are terse: lead, impact and facts only.
  5. Gold triage. affected_services are the scenario's names as they occur in the report, summary and
     next_action are drawn from several phrasings that reuse the report's own names, numbers and times
     (postmortems and "Monitoring" status updates get a follow-up instead of a mitigation).

Extra keys (the stage ignores them; tests use them)
  hard_cases:  which hard-case families the row exercises:
    "distractor"          a service or metric is named as unaffected or unrelated (never in affected_services)
    "cause_vs_impact"     a scary cause with no impact, or a small change with broad impact
    "precedence"          two categories apply; the label follows security > data_loss > outage > degradation
    "misleading_priority" the stated priority, alert severity or tone disagrees with the true severity
    "threshold"           the severity hinges on a stated share or count (2% vs 30% vs all users)
  distractors: the unaffected names the report mentions.

Extending
  A new situation: write a function (r, c) -> dict next to its siblings (keys in the comment above the
  scenarios) and append it to its cell in SCENARIOS. Every cell needs, for every style, one scenario that
  can show it: an "alert" dict for the alert style, a scenario outside NO_STATUS / NO_POSTMORTEM for
  those (tests/test_synth.py checks every cell x style pair). Write the label you would defend to an
  SRE from the facts alone, and keep the facts that decide it in lead/impact/facts, not in "extra".
  A new style: a _render_* function, an entry in RENDERERS and a name in STYLES.
  Draw only from `r`, the generator's random.Random, and never iterate over a set.
"""
import random
import re

from ftlab.triage import CATEGORIES, SEVERITIES, validate

STYLES = ("alert", "chat", "ticket", "postmortem", "status_page", "email")

# --------------------------------------------------------------------------------------------------
# Vocabulary. Names are spelled the way engineers write them, since the model must copy them verbatim.

# (service, status-page component, what users do with it, owning team)
CORE = (
    ("checkout-api", "Checkout", "complete a purchase", "payments"),
    ("auth-service", "Login", "sign in", "identity"),
    ("payments-gateway", "Payment processing", "pay by card", "payments"),
    ("orders-service", "Order placement", "place an order", "commerce"),
    ("cart-service", "Shopping cart", "add items to the cart", "commerce"),
    ("api-gateway", "Public API", "make API calls", "platform"),
    ("mobile-bff", "Mobile app", "use the mobile app", "mobile"),
    ("storefront-web", "Website", "load the storefront", "web"),
    ("booking-api", "Bookings", "create a booking", "bookings"),
    ("accounts-api", "Dashboard", "load the dashboard", "core"),
    ("graphql-gateway", "Web app", "load the web app", "platform"),
    ("transfers-service", "Money transfer", "send a transfer", "payments"),
    ("session-service", "Sign-in", "stay signed in", "identity"),
    ("ledger-api", "Balances", "see their balance", "payments"),
)
# (service, component, what users do with it, the workaround users have)
FEATURES = (
    ("export-worker", "Report export", "export reports as PDF", "the CSV download on each table still [[works|worked]]"),
    ("invoice-pdf", "Invoice download", "download invoice PDFs", "invoices [[are|were]] still emailed as usual"),
    ("recommendations-svc", "Recommendations", "see recommendations", "the page [[falls|fell]] back to bestsellers"),
    ("reviews-service", "Product reviews", "post reviews", "existing reviews still [[display|displayed]]"),
    ("image-resizer", "Image upload", "upload profile pictures", "the default avatar [[is|was]] shown instead"),
    ("search-suggest", "Search suggestions", "get search autocomplete", "full search still [[works|worked]]"),
    ("calendar-sync", "Calendar sync", "sync bookings to Google Calendar", "bookings still [[show|showed]] in the app"),
    ("chat-widget", "Live chat", "reach support by chat", "email support [[is|was]] working"),
    ("loyalty-service", "Rewards", "see reward points", "points [[keep|kept]] accruing in the background"),
    ("reporting-api", "Analytics", "load analytics charts", "raw data [[can|could]] still be pulled via the API"),
    ("wishlist-service", "Wishlist", "save items to a wishlist", "items [[can|could]] still go straight to the cart"),
    ("referral-service", "Referral program", "send referral invites", "invite links [[can|could]] be copied by hand"),
    ("avatar-service", "Profile pictures", "change their profile picture", "the old picture [[stays|stayed]] visible"),
)
# (tool, why people need it, the workaround)
INTERNAL = (  # (tool, what stops when it is down, what slows when it is slow, the workaround)
    ("admin console", "support agents [[cannot|could not]] issue refunds", "refunds", "support can issue refunds with the billing CLI"),
    ("CI runners", "merges to main [[do|did]] not build", "builds", "urgent builds can go to the hosted GitHub runners"),
    ("Jenkins", "release builds [[are|were]] blocked", "release builds", "hotfixes can be built with the break-glass release script"),
    ("Grafana", "on-call [[has|had]] no dashboards", "dashboards", "the Prometheus UI and Datadog still have the metrics"),
    ("internal wiki", "runbooks [[are|were]] unreachable", "runbook lookups", "the runbooks are mirrored in the ops git repo"),
    ("VPN", "engineers [[cannot|could not]] reach internal tools", "internal tools", "the SSO bastion host still works"),
    ("Sentry", "new errors [[are|were]] not triaged", "error triage", "errors still land in Kibana"),
    ("Argo CD", "deploys [[are|were]] blocked", "deploys", "deploys can be applied with kubectl and the break-glass role"),
    ("Airflow", "the nightly data pipelines [[do|did]] not start", "data pipelines", "jobs can be triggered by hand from the CLI"),
    ("backoffice-ui", "the ops team [[cannot|could not]] edit orders", "order edits", "ops can use the admin API scripts"),
    ("artifact registry", "builds [[cannot|could not]] pull base images", "image pulls", "builds fall back to the public mirror"),
    ("Kibana", "log search [[is|was]] unavailable", "log searches", "logs can be queried in CloudWatch Logs Insights"),
    ("feature-flag dashboard", "flags [[cannot|could not]] be changed in the UI", "flag changes", "flags can be changed with the flagctl CLI"),
    ("Jira", "incident tickets [[cannot|could not]] be filed", "ticket updates", "tickets can be tracked in the #ops channel meanwhile"),
)
DATABASES = ("Postgres primary", "orders-db", "users-db", "billing-db", "MySQL primary", "Aurora writer",
             "accounts-db", "inventory-db")
# Only ever used as distractors: plausible neighbours that are fine.
BYSTANDERS = ("search-api", "billing batch job", "Kafka cluster", "Redis cache", "CDN", "notifications-service",
              "webhooks-dispatcher", "inventory-service", "pricing-service", "Elasticsearch cluster",
              "the Android app", "the iOS app", "S3", "Snowflake", "shipping-api", "ML scoring service",
              "catalog-service", "email relay", "payouts job", "fraud-scoring")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1",
           "sa-east-1", "eu-north-1", "ap-south-1", "ca-central-1")
REGION_NAMES = {"us-east-1": "US East", "us-west-2": "US West", "eu-west-1": "Europe (Ireland)",
                "eu-central-1": "Europe (Frankfurt)", "ap-southeast-1": "Asia Pacific (Singapore)",
                "ap-northeast-1": "Asia Pacific (Tokyo)", "sa-east-1": "South America (São Paulo)",
                "eu-north-1": "Europe (Stockholm)", "ap-south-1": "Asia Pacific (Mumbai)",
                "ca-central-1": "Canada"}
DOMAINS = ("shopwave.com", "acmecloud.io", "parcelly.com", "finlo.app", "bookr.io", "medisync.net",
           "tallyhq.com", "routewise.io", "kitepay.com", "nestly.app")
PEOPLE = ("priya", "marco", "jen", "kenji", "sam", "ana", "lukas", "fatima", "tom", "wei", "dmitri", "grace",
          "oluwaseun", "raj", "elena", "ben", "chloe", "yusuf", "mia", "tariq", "ines", "jonas", "keisha", "arjun")
SURNAMES = ("Raman", "Rossi", "Park", "Watanabe", "Okafor", "Lindqvist", "Haddad", "Novak", "Chen", "Ivanova",
            "Mensah", "Kowalski", "Silva", "Brennan", "Nakamura", "Adeyemi", "Fischer", "Moreau", "Singh")
ORGS = ("Acme Logistics", "Northwind Traders", "Globex Retail", "Brightline Health", "Kestrel Labs",
        "Bluefin Travel", "Harbor & Pine", "Umbra Analytics", "Tidewater Foods", "Lumen Schools",
        "Vantage Freight", "Orchid Dental", "Copperleaf Media", "Greystone Legal", "Pinecrest Realty")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FLAGS = ("new_session_cache", "checkout_v2_pricing", "strict_token_audience", "enable_http2_upstream",
         "batch_ledger_writes", "async_cart_merge", "geo_routing_v3", "use_new_rate_limiter",
         "grpc_keepalive_tuning", "lazy_price_lookup", "edge_auth_precheck")
CONFIG_TARGETS = ("edge proxy", "nginx ingress", "Envoy sidecars", "HAProxy tier", "Cloudflare WAF rules",
                  "Istio VirtualService")
CLUSTERS = ("prod-eu-1", "prod-use1-a", "k8s-prod-02", "gke-prod-central", "eks-prod-blue")


# --------------------------------------------------------------------------------------------------
# Small helpers.

def _hm(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _at(c, delta: int) -> str:
    return _hm(c["m0"] + delta)


_ALT = re.compile(r"\[\[(.*?)\|(.*?)\]\]")


def _tense(text: str, past: bool) -> str:
    """Resolve every [[present|past]] alternative."""
    return _ALT.sub(lambda m: m.group(2 if past else 1), text)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _pct(r, lo: float, hi: float) -> str:
    v = r.uniform(lo, hi)
    return f"{v:.1f}%" if v < 10 or r.random() < 0.3 else f"{round(v)}%"


def _num(r, lo: int, hi: int) -> str:
    return f"{r.randint(lo, hi):,}"


def _ver(r) -> str:
    return f"v{r.randint(1, 9)}.{r.randint(0, 48)}.{r.randint(0, 15)}"


def _full_name(r) -> str:
    return f"{_cap(r.choice(PEOPLE))} {r.choice(SURNAMES)}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _some(r, xs, p=0.5):
    """Each element kept with probability p, order preserved."""
    return [x for x in xs if r.random() < p]


# --------------------------------------------------------------------------------------------------
# Causes shared by the service scenarios. Each names when it happened (c["tc"], minutes before the first
# symptom), a short form for the summary, the component it implicates (affected too, as the spec's
# example lists the "edge proxy"), next actions while it burns, the fix and follow-ups for postmortems.

def _cause(r, c, svc, kinds):
    kind, tc = r.choice(kinds), c["tc"]
    if kind == "deploy":
        ver = _ver(r)
        return dict(
            text=r.choice((f"{svc} {ver} was deployed at {tc}.",
                           f"The only change in the window [[is|was]] the {tc} deploy of {svc} {ver}.",
                           f"A deploy of {svc} ({ver}) finished at {tc}.")),
            short=f"the {tc} deploy of {svc} {ver}", event=f"Deploy of {svc} {ver} completed.", comp=None,
            actions=(f"Roll back {svc} from {ver} to the previous release and watch the error rate.",
                     f"Revert the {tc} deploy of {svc} {ver} and confirm recovery on the dashboards."),
            fix=f"rolled {svc} back from {ver}",
            followups=(f"Add a canary stage to the {svc} pipeline so a build like {ver} is stopped before full rollout.",
                       f"Find out why {svc} {ver} passed CI and add a test for the failure it shipped."))
    if kind == "config":
        comp = r.choice(CONFIG_TARGETS)
        return dict(
            text=r.choice((f"A config push to the {comp} went out at {tc}.",
                           f"Someone pushed a {comp} config change at {tc}.",
                           f"The {comp} config was changed at {tc} (routing rules for {svc}).")),
            short=f"a config change to the {comp} at {tc}", event=f"Config change pushed to the {comp}.", comp=comp,
            actions=(f"Roll back the {tc} {comp} config change and watch {svc} recover.",
                     f"Revert the {comp} config pushed at {tc}."),
            fix=f"reverted the {comp} config",
            followups=(f"Put {comp} config changes behind a staged rollout with automatic rollback on 5xx.",
                       f"Add a config diff check for {svc} routes to the {comp} pipeline."))
    if kind == "flag":
        flag = r.choice(FLAGS)
        tiny = r.random() < 0.5
        return dict(
            text=(f"The only change was a one-line flag flip: `{flag}` was set to true at {tc}." if tiny else
                  f"The `{flag}` feature flag was rolled out to 100% at {tc}."),
            short=f"the `{flag}` flag change at {tc}", event=f"`{flag}` flag enabled for all traffic.", comp=None,
            actions=(f"Turn the `{flag}` flag off again and confirm {svc} recovers.",
                     f"Disable `{flag}` (flipped at {tc}) in the flag service."),
            fix=f"turned `{flag}` off",
            followups=(f"Require a percentage rollout for `{flag}`-style flags touching {svc}.",
                       f"Add an automatic kill switch that disables flags when {svc} errors spike."),
            tag="cause_vs_impact" if tiny else None)
    if kind == "cert":
        host = f"{r.choice(('api', 'www', 'auth', 'pay', 'app'))}.{c['domain']}"
        return dict(
            text=f"The TLS certificate for {host} expired at {tc}; clients fail the handshake.",
            short=f"the TLS certificate for {host} expiring at {tc}", event=f"TLS certificate for {host} expired.",
            comp=None,
            actions=(f"Issue and deploy a new certificate for {host}, then check the handshake from outside.",
                     f"Renew the {host} certificate and reload the load balancer listeners."),
            fix=f"deployed a renewed certificate for {host}",
            followups=(f"Alert 30 days before expiry on every certificate, including {host}.",
                       f"Move {host} to automated ACME renewal."))
    if kind == "typo":  # the smallest possible change; tagged when the impact is broad
        comp = r.choice(CONFIG_TARGETS)
        return dict(
            text=r.choice((f"The only change was a one-character edit to the {comp} config at {tc} (a typo in the {svc} upstream hostname).",
                           f"A one-line {comp} config change at {tc} misspelled the {svc} upstream.")),
            short=f"a one-line {comp} config change at {tc}", event=f"One-line config change pushed to the {comp}.", comp=comp,
            actions=(f"Revert the {tc} {comp} change and confirm {svc} traffic flows again.",
                     f"Fix the {svc} upstream hostname in the {comp} config (changed at {tc})."),
            fix=f"reverted the {comp} change",
            followups=(f"Validate upstream hostnames in {comp} config before it ships.",),
            tag="cause_vs_impact")
    if kind == "dns":
        host = f"{r.choice(('api', 'www', 'app', 'login'))}.{c['domain']}"
        return dict(
            text=f"A DNS change for {host} was applied at {tc}; the record now points at a decommissioned load balancer.",
            short=f"a DNS change for {host} at {tc}", event=f"DNS record for {host} changed.", comp=None,
            actions=(f"Revert the {tc} DNS change for {host} and flush the resolver caches you control.",
                     f"Point {host} back at the live load balancer (undo the {tc} change)."),
            fix=f"reverted the DNS record for {host}",
            followups=(f"Require a second reviewer and a pre-check for DNS changes to {host}.",
                       f"Lower the TTL on {host} so a bad record can be undone quickly."))
    if kind == "secret":
        return dict(
            text=f"The database password for {svc} was rotated in Vault at {tc}, and the pods still [[use|used]] the old one.",
            short=f"the {tc} credential rotation", event=f"Database credentials for {svc} rotated.", comp=None,
            actions=(f"Restart {svc} so the pods pick up the rotated credentials, or restore the old password.",
                     f"Roll the {svc} pods to load the new secret (rotated at {tc})."),
            fix=f"restarted {svc} with the new credentials",
            followups=(f"Make {svc} reload credentials without a restart.",
                       f"Rotate secrets with dual passwords so old and new both work during rollout."))
    if kind == "db":
        db = r.choice(DATABASES)
        n = r.choice((100, 200, 400, 500))
        return dict(
            text=f"{db} [[is|was]] at max_connections ({n}/{n}) and new queries [[queue|queued]].",
            short=f"{db} running out of connections", rel="with", event=f"{db} hit max_connections.", comp=db,
            actions=(f"Kill the long-running sessions on {db} and cap the {svc} connection pool.",
                     f"Page the database on-call to clear connections on {db}."),
            fix=f"killed idle sessions on {db} and lowered the {svc} pool size",
            followups=(f"Put PgBouncer in front of {db}.", f"Alert on {db} connection usage above 80%."))
    if kind == "node":
        cl = r.choice(CLUSTERS)
        return dict(
            text=f"A node pool upgrade on the {cl} cluster started at {tc} and is draining nodes.",
            short=f"the {cl} node pool upgrade started at {tc}", event=f"Node pool upgrade began on {cl}.",
            comp=f"{cl} cluster",
            actions=(f"Pause the {cl} node pool upgrade and scale {svc} back up.",
                     f"Halt the node drain on {cl} and check the {svc} PodDisruptionBudget."),
            fix=f"paused the {cl} upgrade",
            followups=(f"Set a PodDisruptionBudget for {svc}.", f"Run node pool upgrades on {cl} one zone at a time."))
    if kind == "capacity":
        x = r.choice(("3x", "4x", "5x", "2.5x"))
        return dict(
            text=f"Traffic [[is|was]] {x} normal after a marketing email went out at {tc}.",
            short=f"{x} normal traffic after the {tc} marketing email", rel="with", event="Marketing email sent.", comp=None,
            actions=(f"Scale {svc} out (raise the HPA max replicas) and shed non-essential traffic.",
                     f"Add capacity to {svc} and turn on the queueing page for new sessions."),
            fix=f"scaled {svc} out",
            followups=(f"Have marketing book large sends with the {svc} owners in advance.",
                       f"Load-test {svc} at {x} traffic."))
    if kind == "cache":
        return dict(
            text=f"The Redis cache was flushed at {tc} during maintenance, so every lookup [[goes|went]] to the database.",
            short=f"the Redis cache flush at {tc}", event="Redis cache flushed during maintenance.",
            comp="Redis cache",
            actions=(f"Warm the Redis cache for {svc} and rate-limit cache-miss traffic to the database.",
                     f"Throttle {svc} cache misses until the Redis cache is warm again."),
            fix="warmed the Redis cache",
            followups=("Never flush the Redis cache outside a maintenance window with a warm-up plan.",
                       f"Add request coalescing to {svc} so a cold cache does not stampede the database."))
    raise ValueError(kind)


def _err_alert(svc, value, thr="5%", name=None):
    """A 5xx-ratio alert as Prometheus, Datadog and CloudWatch would phrase it."""
    return dict(name=name or "HighErrorRate", value=value, thr=thr, op=">", svc=svc,
                prom=f'sum(rate(http_requests_total{{service="{svc}",code=~"5.."}}[5m])) / sum(rate(http_requests_total{{service="{svc}"}}[5m]))',
                dd=(f"sum:trace.http.request.errors{{service:{svc},env:prod}}.as_rate() / "
                    f"sum:trace.http.request.hits{{service:{svc},env:prod}}.as_rate()"),
                cw="HTTPCode_Target_5XX_Count / RequestCount")


def _lat_alert(svc, value, thr, name="HighLatencyP99"):
    return dict(name=name, value=value, thr=thr, op=">", svc=svc,
                prom=f'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{service="{svc}"}}[5m])))',
                dd=f"p99:trace.http.request.duration{{service:{svc},env:prod}}",
                cw="TargetResponseTime p99")


def _metric_alert(svc, name, expr, value, thr, op=">"):
    return dict(name=name, value=value, thr=thr, op=op, svc=svc, prom=expr, dd=expr, cw=expr)


# --------------------------------------------------------------------------------------------------
# Scenarios. Each returns a dict:
#   svc       affected names (engineering register), primary first; every one appears in the facts
#   title     short engineering title
#   lead      the symptom clause, subject first, [[present|past]]; "Since 14:05 UTC, " goes in front of it
#             unless its first alternative is an event ([[deleted|deleted]]: "At 14:05 UTC, ") or when="none"
#   impact    who/how bad, a clause (optional)
#   facts     further sentences (always rendered)
#   extra     colour sentences, each rendered or not (never used by the summary)
#   cause     a _cause() dict or None; root: a root-cause sentence for postmortems when there is no cause
#   actions / fix / followups   next steps while it burns; what fixed it; what to do after
#   alert     how a monitor would page (optional; the alert style needs it): a metric dict or {"raw": text}
#   alarm     the monitor pages as critical although nobody is affected (a misleading-priority case)
#   cust      customer register (optional): svc, title, status (company voice), says (customer voice),
#             sum (summary clause true in both voices); optional actions, status_sum, status_actions,
#             question/org_sum for a customer who asks rather than reports
#   internal  True when no customer could notice (status pages go internal, postmortems skip ticket counts)
#   tags, distractors   hard-case families and unaffected names the scenario itself mentions
#   log       an error line as it would be pasted (optional)
#   no_dist   True when no neighbour can honestly be called fine (the whole site is down)
# A scenario listed in NO_STATUS or NO_POSTMORTEM is never drawn for that style (nobody would write it).

# ---- SEV1 outage ----

def _core_down(r, c):
    svc, comp, verb, team = r.choice(CORE)
    code = r.choice(("502", "503", "504", "500"))
    lead = r.choice((
        f"{svc} [[is returning|returned]] HTTP {code} for 100% of requests",
        f"every request to {svc} [[is failing|failed]] with HTTP {code}",
        f"{svc} [[is|was]] hard down, with synthetic checks failing from every probe location",
        f"all {svc} pods [[are|were]] in CrashLoopBackOff and the load balancer [[has|had]] 0 healthy targets",
    ))
    impact = r.choice((f"no one [[can|could]] {verb}", f"customers [[are|were]] unable to {verb} on web and mobile",
                       f"the {comp.lower()} success rate [[is|was]] 0%"))
    cause = _cause(r, c, svc, ("deploy", "config", "flag", "cert", "dns", "secret", "typo")) if r.random() < 0.8 else None
    rps = _num(r, 300, 9000)
    return dict(
        svc=[svc], title=r.choice((f"{svc} down", f"{svc} returning {code} on all requests", f"{comp} completely down")),
        lead=lead, impact=impact, facts=[], cause=cause,
        extra=[f"Normal traffic is around {rps} rps.", f"The {team} on-call has been paged.",
               f"Error budget for {svc} is gone for the month."],
        actions=(f"Page the {team} on-call and roll back the most recent change to {svc}.",
                 f"Fail {svc} over to the standby region while the cause is found."),
        fix=f"restored {svc}", followups=(f"Add a synthetic check on the {comp.lower()} flow that blocks deploys.",),
        alert=_err_alert(svc, "100%", name=r.choice(("HighErrorRate", "EndpointDown", "ServiceUnavailable"))),
        cust=dict(svc=[comp], title=r.choice((f"{comp} unavailable", f"{comp} is down", f"Errors with {comp}")),
                  status=[f"{comp} is unavailable and customers cannot {verb}."],
                  says=[f"{comp} is completely down for us, nobody can {verb}.", f"Every attempt ends in an error page ({code})."],
                  sum=f"{comp} is unavailable and customers cannot {verb}"),
        tags=[], log=(f"upstream connect error or disconnect/reset before headers. reset reason: connection failure ({svc})"
                      if code in ("502", "503") else None))


def _db_down_takes_core(r, c):
    # Two categories touch here (latency and hard failures): outage wins over degradation.
    db = r.choice(DATABASES)
    svc, comp, verb, team = r.choice(CORE)
    mysql = "MySQL" in db or "Aurora" in db
    why = r.choice((f"{db} ran out of disk (100% on {'/var/lib/mysql' if mysql else '/var/lib/postgresql'})",
                    f"{db} failover to the standby has been stuck for {r.randint(8, 25)} minutes",
                    f"{db} is refusing connections after an OOM kill",
                    f"{db} is in recovery mode after a crash"))
    p99 = f"{r.randint(20, 60)}s"
    return dict(
        svc=[svc, db], title=f"{db} down, {svc} failing",
        lead=f"{svc} [[is returning|returned]] HTTP 500 on every write because {why}",
        impact=f"no one [[can|could]] {verb}",
        facts=[f"Reads that still [[succeed|succeeded]] [[take|took]] {p99} at p99."],
        cause=None, extra=[f"Replication lag on the {db} standby is {r.randint(2, 40)}s.", f"#inc-{db.split()[0].lower()} is open."],
        actions=(f"Page the database on-call and promote the {db} standby, then point {svc} at it.",
                 f"Free disk or fail over {db} so {svc} writes succeed again, then check replication."),
        fix=f"promoted the {db} standby", followups=(f"Alert on {db} disk and failover duration well before they block writes.",),
        alert=_err_alert(svc, "100%", name="HighErrorRate"),
        cust=dict(svc=[comp], title=f"{comp} unavailable", status=[f"{comp} is unavailable; customers cannot {verb}."],
                  says=[f"{comp} doesn't work at all, every time we try to {verb} it spins and then errors out."],
                  sum=f"{comp} is unavailable and customers cannot {verb}"),
        tags=["precedence"], log=r.choice((("ERROR 2013 (HY000): Lost connection to MySQL server during query",
                                           "ERROR 1114 (HY000): The table 'orders' is full") if mysql else
                                          ('FATAL:  could not write to file "pg_wal/xlogtemp.1234": No space left on device',
                                           "psycopg2.OperationalError: could not connect to server: Connection refused"))))


def _mobile_crash(r, c):
    app = r.choice(("the iOS app", "the Android app"))
    ver = f"{r.randint(3, 9)}.{r.randint(0, 30)}.{r.randint(0, 5)}"
    free = _pct(r, 1, 9)
    return dict(
        svc=[app], title=f"{app} crashes on launch ({ver})",
        lead=f"{app} {ver} [[crashes|crashed]] on launch for every user who [[opens|opened]] it",
        impact=f"crash-free sessions [[are|were]] at {free} (normally 99.8%)",
        facts=[f"Version {ver} [[is|was]] on {r.choice(('100%', 'the full'))} phased rollout since the morning."],
        cause=None, root="The crash is a null pointer in the new onboarding screen.",
        extra=["App store reviews are filling up with one-star 'crashes on open'.",
                           "The crash is a null pointer in the new onboarding screen."],
        actions=(f"Halt the {ver} rollout and prepare a hotfix build; disable the crashing screen by remote config if possible.",
                 f"Pause the {ver} phased release and pull the crash stack traces to find the failing screen."),
        fix=f"disabled the onboarding screen via remote config", followups=(f"Gate app releases on crash-free sessions from a 1% rollout.",),
        alert=_metric_alert(app, "CrashFreeSessionsLow", f'crashlytics.crash_free_sessions{{app="{_slug(app)}",version="{ver}"}}',
                            free, "99%", "<"),
        cust=dict(svc=["mobile app"], title="Mobile app crashing on launch",
                  status=[f"The mobile app crashes on launch after updating to version {ver}."],
                  says=[f"Since updating to {ver} the mobile app crashes as soon as I open it.", "Reinstalling didn't help.",
                        "Everyone in our office who updated has the same problem."],
                  sum=f"the mobile app crashes on launch on version {ver}"),
        tags=[])


def _payments_provider_down(r, c):
    prov = r.choice(("Stripe", "Adyen", "Braintree", "Checkout.com"))
    n = _num(r, 400, 6000)
    return dict(
        svc=["payments-gateway"], title=f"All card payments failing ({prov} timeouts)",
        lead=f"payments-gateway [[is timing|timed]] out on every call to {prov}",
        impact=f"100% of card payments [[are failing|failed]], about {n} orders in the first 20 minutes",
        facts=[f"{prov}'s status page [[shows|showed]] no incident."], cause=None,
        extra=["Orders are stuck in PAYMENT_PENDING.", "Refunds are failing too."],
        actions=(f"Fail payments-gateway over to the backup acquirer and open a P1 with {prov} support.",
                 f"Route card payments away from {prov} and confirm payments-gateway success rate recovers."),
        fix=f"routed card traffic to the backup acquirer",
        followups=(f"Automate failover away from {prov} when its error rate passes 20%.",),
        alert=_metric_alert("payments-gateway", "PaymentSuccessRateLow",
                            f'sum(rate(payments_total{{status="succeeded",provider="{_slug(prov)}"}}[5m])) / '
                            'sum(rate(payments_total[5m]))', "0%", "85%", "<"),
        cust=dict(svc=["Payment processing"], title="Card payments failing",
                  status=["Payment processing is failing for all card payments."],
                  says=["Payment processing is broken: none of our customers can pay by card right now.",
                        f"We've lost about {n} orders already."],
                  sum="payment processing fails for all card payments"),
        tags=[])


def _edge_down(r, c):
    host = f"{r.choice(('www', 'app', 'api'))}.{c['domain']}"
    how = r.choice((f"{host} [[is|was]] unreachable: browsers [[show|showed]] NET::ERR_CERT_DATE_INVALID",
                    f"{host} [[is returning|returned]] Cloudflare error 522 to every visitor",
                    f"DNS lookups for {host} [[return|returned]] SERVFAIL from every public resolver",
                    f"the CDN [[is serving|served]] HTTP 503 for all of {host}"))
    return dict(
        svc=[host], title=f"{host} unreachable", lead=how, no_dist=True,  # everything behind the edge is down too
        impact="the whole site and app [[are|were]] down for all users",
        facts=[], cause=None, extra=["Synthetic checks from all 12 locations are red.", "Internal access via the VPN works."],
        actions=(f"Find the last change to {host} (cert, DNS, CDN config) and revert it; page the edge on-call.",
                 f"Check the certificate and DNS records for {host} and put the previous ones back."),
        fix=f"restored service on {host}", followups=(f"Add external probes for {host} that alert on cert and DNS failures.",),
        alert=_metric_alert(host, "BlackboxProbeFailed", f'probe_success{{instance="https://{host}"}}', "0", "1", "<"),
        cust=dict(svc=[host], title=f"{host} unavailable", status=[f"{host} is unreachable for all customers."],
                  says=[f"{host} won't load at all, it's just an error page.", "Tried Chrome and Safari and two networks."],
                  sum=f"{host} is unreachable"),
        tags=[])


# ---- SEV2 outage ----

def _region_down(r, c):
    svc, comp, verb, team = r.choice(CORE)
    reg = c["region"]
    share = _pct(r, 12, 38)
    other = r.choice([x for x in REGIONS if x != reg])
    slow = r.random() < 0.4 and f"{r.randint(2, 9)}s"
    return dict(
        svc=[svc], title=f"{svc} down in {reg}",
        lead=f"{svc} in {reg} [[is returning|returned]] HTTP 503 for every request",
        impact=f"{reg} [[serves|served]] about {share} of traffic, so those customers [[cannot|could not]] {verb}",
        facts=[f"{svc} in {other} [[is|was]] healthy." if not slow else
               f"{svc} in {other} [[is|was]] up but p99 [[has risen|rose]] to {slow} from the extra load."],
        cause=_cause(r, c, svc, ("deploy", "config", "node", "typo")) if r.random() < 0.6 else None,
        extra=[f"The {reg} target group shows 0 healthy hosts.", f"{REGION_NAMES[reg]} customers are tweeting about it."],
        actions=(f"Shift {reg} traffic to {other} with the global load balancer weights, then debug {reg}.",
                 f"Fail {reg} over to {other} and page the {team} on-call."),
        fix=f"drained {reg} and served it from {other}", followups=(f"Automate regional failover for {svc} on health-check failure.",),
        alert=_err_alert(svc, "100%", name="RegionEndpointDown"),
        cust=dict(svc=[comp], title=f"{comp} unavailable in {REGION_NAMES[reg]}",
                  status=[f"{comp} is unavailable for customers in {REGION_NAMES[reg]}. Other regions are working normally."],
                  says=[f"{comp} is down for our {REGION_NAMES[reg]} users, we cannot {verb} at all.", "Our US team says it works for them."],
                  sum=f"{comp} is unavailable for customers in {REGION_NAMES[reg]}"),
        tags=["threshold"] + (["precedence"] if slow else []))


def _platform_login_down(r, c):
    app, fine = r.choice((("the Android app", "the iOS app"), ("the iOS app", "the Android app")))
    share = _pct(r, 25, 45)
    return dict(
        svc=[app, "auth-service"], title=f"Login fails on {app}",
        lead=f"login on {app} [[fails|failed]] for everyone with 'invalid_grant' from auth-service",
        impact=f"{app} [[is|was]] about {share} of sessions",
        facts=[f"Web and {fine} logins [[work|worked]] fine."], distractors=[fine],
        cause=_cause(r, c, "auth-service", ("deploy", "config", "flag")) if r.random() < 0.7 else None,
        root="The OAuth client for mobile was touched last week.",
        extra=["Already signed-in users are not affected.", "The OAuth client for mobile was touched last week."],
        actions=(f"Check the auth-service OAuth client config for {app} and roll back the last auth-service change.",
                 f"Roll back auth-service and verify a fresh login on {app}."),
        fix="restored the mobile OAuth client settings", followups=("Add a synthetic login test per platform.",),
        alert=None,
        cust=dict(svc=[app], title=f"Unable to log in on {app}",
                  status=[f"Customers cannot log in on {app}. Web login is working."],
                  says=[f"None of our staff can log in on {app} since this morning, it just says 'Something went wrong'.",
                        "The website works fine."],
                  sum=f"customers cannot log in on {app} while web login works"),
        tags=["distractor", "threshold"])


def _feature_fully_down(r, c):
    feat, public, what = r.choice((
        ("webhooks-dispatcher", "Webhooks", "webhooks-dispatcher [[has delivered|delivered]] no webhooks at all"),
        ("password-reset emails", None, "no password-reset emails [[have gone|went]] out"),
        ("file-upload-service", "File uploads", "every file upload [[fails|failed]] with HTTP 500 in file-upload-service"),
        ("notifications-service", "Order confirmations", "notifications-service [[has sent|sent]] no order-confirmation emails")))
    n = _num(r, 2000, 90000)
    return dict(
        svc=[feat], title=f"{feat} not working", lead=what,
        impact=f"about {n} items [[are|were]] queued or failed for all customers",
        facts=[], cause=_cause(r, c, feat, ("deploy", "config", "secret")) if r.random() < 0.6 else None,
        extra=["Core checkout and login are unaffected.", "Support is getting tickets about it."],
        actions=(f"Roll back the last {feat} change and replay the {n} queued items once it is healthy.",
                 f"Restore {feat} and plan a replay of everything that failed."),
        fix=f"restored {feat}", followups=(f"Alert when {feat} delivery volume drops to zero for 5 minutes.",),
        alert=_metric_alert(feat, "DeliveryRateZero", f'sum(rate(deliveries_total{{service="{_slug(feat)}",status="ok"}}[10m]))', "0", "1", "<"),
        cust=public and dict(
            svc=[public], title=f"{public} not working", status=[f"{public} are failing for all customers."],
            says=[f"{public} have stopped working completely on your side, nothing has come through for hours."],
            sum=f"{public.lower()} have stopped working"),
        tags=[])


def _alt_payment_down(r, c):
    method = r.choice(("PayPal", "Apple Pay", "Google Pay", "Klarna", "SEPA direct debit"))
    share = _pct(r, 10, 30)
    return dict(
        svc=["payments-gateway"], title=f"{method} payments failing",
        lead=f"every {method} payment [[fails|failed]] in payments-gateway with 'provider_unavailable'",
        impact=f"{method} [[is|was]] about {share} of checkouts",
        facts=["Card payments [[are|were]] succeeding normally."], cause=None,
        root=f"{method} integration credentials were renewed last week.",
        extra=[f"{method} integration credentials were renewed last week.", "Checkout shows a generic error."],
        actions=(f"Hide the {method} option in checkout so customers pay by card, and open a ticket with {method}.",
                 f"Check payments-gateway {method} credentials and the provider status; hide {method} until fixed."),
        fix=f"hid {method} at checkout", followups=(f"Alert on per-method payment success rate, including {method}.",),
        alert=None,
        cust=dict(svc=[method], title=f"{method} payments failing", status=[f"{method} payments are currently failing. Card payments are working."],
                  says=[f"None of our shoppers can pay with {method}, they get an error. Cards seem to work."],
                  sum=f"{method} payments fail while card payments work"),
        tags=["threshold"])


def _sso_down(r, c):
    idp = r.choice(("Okta", "Azure AD", "Google Workspace", "OneLogin"))
    share = _pct(r, 20, 40)
    return dict(
        svc=["SAML SSO", "auth-service"], title=f"SAML SSO login failing ({idp} tenants)",
        lead=f"SAML SSO logins via {idp} [[fail|failed]] with 'signature validation failed' in auth-service",
        impact=f"enterprise tenants on {idp} SSO, about {share} of active users, [[cannot|could not]] sign in",
        facts=["Password logins [[work|worked]]."], cause=None,
        root="Our SAML signing certificate was rotated yesterday.",
        extra=["Our SAML signing certificate was rotated yesterday.", "Three enterprise admins opened tickets."],
        actions=(f"Check the SAML certificate auth-service presents to {idp} and restore the previous one if it changed.",
                 f"Compare the auth-service SAML settings with {idp}'s metadata and test an {idp} login."),
        fix="restored the previous SAML certificate", followups=("Rotate SAML certificates with overlap and notify tenants.",),
        alert=None,
        cust=dict(svc=["SSO"], title="SSO login failing", status=[f"Customers using {idp} SSO cannot sign in."],
                  says=[f"None of our employees can log in through SSO ({idp}). Password login is disabled for our org.",
                        f"People in the {idp} admins community say other companies see the same."],
                  sum=f"customers using {idp} SSO cannot sign in"),
        tags=["threshold"])


# ---- SEV3 outage ----

def _feature_down(r, c):
    svc, comp, verb, workaround = r.choice(FEATURES)
    code = r.choice(("500", "503", "504"))
    return dict(
        svc=[svc], title=f"{svc} down",
        lead=f"{svc} [[is returning|returned]] HTTP {code} on every request, so users [[cannot|could not]] {verb}",
        impact=f"the rest of the product [[works|worked]], and {workaround}", facts=[],
        cause=_cause(r, c, svc, ("deploy", "config", "secret")) if r.random() < 0.5 else None,
        extra=[f"Only a handful of users touch {comp.lower()} per hour.", "Nothing else on the page is broken."],
        actions=(f"Roll back the last {svc} change and confirm users can {verb} again.",
                 f"Restart {svc} and check its logs for the {code} cause."),
        fix=f"restored {svc}", followups=(f"Add {svc} to the synthetic checks.",),
        alert=_err_alert(svc, "100%", name="ServiceDown"),
        cust=dict(svc=[comp], title=f"{comp} unavailable", status=[f"{comp} is unavailable; {_tense(workaround, False)}."],
                  says=[f"{comp} gives me an error every time I try to {verb}."],
                  sum=f"{comp} is unavailable"),
        tags=[])


def _internal_tool_down(r, c):
    tool, stops, _, workaround = r.choice(INTERNAL)
    how = r.choice((f"{tool} [[is|was]] down (502 from the ingress)", f"{tool} [[is|was]] unreachable",
                    f"{tool} [[is timing|timed]] out for everyone"))
    return dict(
        svc=[tool], title=f"{tool} down", lead=how, impact=stops,
        facts=[f"Workaround: {workaround}."], cause=_cause(r, c, tool, ("deploy", "config", "node")) if r.random() < 0.4 else None,
        extra=["No customer-facing service depends on it.", "It was slow yesterday as well."],
        actions=(f"Restart {tool} and check its pod events; post the workaround in #eng meanwhile.",
                 f"Page the internal-tools on-call to bring {tool} back."),
        fix=f"brought {tool} back", followups=(f"Give {tool} a second replica.",),
        alert=_metric_alert(tool, "TargetDown", f'up{{job="{_slug(tool)}"}}', "0", "1", "<"),
        cust=None, internal=True, tags=[])


def _single_tenant_integration(r, c):
    org = r.choice(ORGS)
    integ = r.choice(("SFTP import", "Salesforce sync", "custom domain", "SCIM provisioning", "nightly CSV feed"))
    return dict(
        svc=[integ], title=f"{integ} failing for {org}",
        lead=f"the {integ} for {org} [[fails|failed]] on every run with 'connection reset'",
        impact=f"only {org} [[is|was]] affected, and they [[can|could]] upload the file by hand in the dashboard",
        facts=[], cause=None, root=f"{org} rotated their firewall rules on Monday.",
        extra=[f"{org} rotated their firewall rules on Monday.", "Other tenants' runs are green."],
        actions=(f"Check {org}'s allow-list against our egress IPs and rerun the {integ}.",
                 f"Compare {org}'s {integ} settings with a working tenant and rerun it."),
        fix=f"fixed {org}'s {integ} settings", followups=(f"Alert the tenant's admin when their {integ} fails twice in a row.",),
        alert=None,
        cust=dict(svc=[integ], title=f"{integ} not working", status=[f"The {integ} fails for one customer."],
                  says=[f"Our {integ} has failed every run since yesterday. We can upload manually for now but need this fixed."],
                  sum=f"the {integ} fails for {org}, who can upload by hand"),
        tags=[])


def _sandbox_down(r, c):
    host = f"api.sandbox.{c['domain']}"
    return dict(
        svc=[host], title=f"{host} down",
        lead=f"{host} [[returns|returned]] HTTP 503 for all requests",
        impact="developers [[cannot|could not]] test integrations against the sandbox",
        facts=[f"Production api.{c['domain']} [[is|was]] unaffected."], distractors=[f"api.{c['domain']}"],
        cause=None, extra=["Three partners asked about it in the developer forum.", "The sandbox shares nothing with production."],
        actions=(f"Restart the sandbox deployment behind {host} and post a note on the developer forum.",
                 f"Check the {host} ingress and pods; redeploy the sandbox if needed."),
        fix="redeployed the sandbox", followups=(f"Add {host} to the external probes.",),
        alert=_metric_alert(host, "ProbeFailed", f'probe_success{{instance="https://{host}/health"}}', "0", "1", "<"),
        cust=dict(svc=["sandbox"], title="Sandbox API unavailable",
                  status=["The sandbox API is unavailable. Production traffic is not affected."],
                  says=["Your sandbox API returns 503 for every call, we can't run our integration tests."],
                  sum="the sandbox API is unavailable"),
        tags=["distractor"])


# ---- SEV4 outage ----

def _staging_down(r, c):
    env = r.choice(("staging", "staging-eu", "qa-2", "dev cluster", "preview cluster"))
    return dict(
        svc=[env], title=f"{env} down",
        lead=f"{env} [[is|was]] down: the ingress [[returns|returned]] 503",
        impact=r.choice(("nobody [[is|was]] blocked, it's the release freeze", "no one [[is|was]] using it tonight",
                         "production [[is|was]] not affected")),
        facts=[], cause=_cause(r, c, env, ("deploy", "config", "node")) if r.random() < 0.5 else None,
        extra=["The nightly e2e suite will fail until it's back.", "Its certificate was also renewed today."],
        actions=(f"Rebuild {env} in working hours; no need to page anyone.",
                 f"Open a ticket for the platform team to restore {env}."),
        fix=f"rebuilt {env}", followups=(f"Give {env} an owner and an uptime alert that pages nobody at night.",),
        alert=_metric_alert(env, "TargetDown", f'up{{env="{_slug(env)}"}}', "0", "1", "<"),
        cust=None, internal=True, tags=[])


def _legacy_endpoint_down(r, c):
    path = r.choice(("/v1/legacy-export", "/api/v0/orders", "/soap/inventory", "/v1/reports/old", "/partner/v1/feed"))
    return dict(
        svc=[path], title=f"{path} returning 500",
        lead=f"{path} [[returns|returned]] HTTP 500 on every call",
        impact=f"its only caller in the last 90 days [[is|was]] our own synthetic check",
        facts=[f"Traffic to {path} [[is|was]] zero apart from the check."], cause=None,
        extra=["It's scheduled for removal next quarter.", "The rest of the API is healthy."],
        actions=(f"Silence the {path} check and file a ticket to delete the endpoint.",
                 f"Drop the synthetic check on {path} and schedule its removal."),
        fix="silenced the check", followups=(f"Delete {path}.",),
        alert=_err_alert(path, "100%", name="EndpointErrors"),
        cust=None, internal=True, alarm=r.random() < 0.5, tags=[])


def _canary_caught(r, c):
    svc = r.choice(CORE)[0]
    comp = r.choice(CONFIG_TARGETS)
    secs = r.randint(40, 180)
    return dict(
        svc=[svc], title=f"Bad {comp} config caught by canary",
        lead=f"a config push to the {comp} for {svc} at {c['tc']} [[made|made]] the canary fail 100% of health checks",
        impact=f"the rollout [[was|was]] halted automatically after {secs} seconds and no customer traffic [[reached|reached]] the canary",
        facts=[f"{svc} error rate on real traffic [[stays|stayed]] at baseline."],
        cause=None, root="The config had a typo in an upstream name.",
        extra=["The config had a typo in an upstream name.", "Nobody was paged."],
        actions=(f"Find what in the {comp} config broke the canary and fix it before pushing again; nothing to mitigate.",
                 f"Review the rejected {comp} change for {svc} before pushing again; nothing to mitigate."),
        fix="left the automatic rollback in place", followups=(f"Lint {comp} upstream names in CI.",),
        alert=_metric_alert(svc, "CanaryHealthCheckFailed", f'canary_health_ok{{service="{svc}"}}', "0", "1", "<"),
        cust=None, internal=True, tags=["cause_vs_impact"])


def _redundant_node_down(r, c):
    what, pool = r.choice((("kafka-broker-3", "the other 5 brokers"), ("redis-replica-2", "the other 2 replicas"),
                           ("es-data-07", "the other 11 data nodes"), ("search-api pod 4/12", "the other 11 pods"),
                           ("nat-gateway-b", "the zone-a gateway")))
    return dict(
        svc=[what], title=f"{what} down",
        lead=f"{what} [[is|was]] down after a hardware failure on its host",
        impact=f"{pool} [[carry|carried]] the load with no errors or latency change",
        facts=[], cause=None, extra=["Auto-replacement is scheduled.", "Replication factor is 3, nothing under-replicated."],
        actions=(f"Let the replacement for {what} come up and confirm it rejoins; no customer action needed.",
                 f"Replace {what} in working hours and check rebalance afterwards."),
        fix=f"replaced {what}", followups=(f"Lower the {what} alert to a ticket since redundancy covers it.",),
        alert=_metric_alert(what, "InstanceDown", f'up{{instance="{what}"}}', "0", "1", "<"),
        cust=None, internal=True, alarm=True, tags=[])


# ---- SEV1 degradation ----

def _checkout_latency_extreme(r, c):
    svc, comp, verb, team = r.choice([x for x in CORE if x[3] in ("payments", "commerce", "bookings")])
    p99 = f"{r.randint(18, 60)}s"
    base = f"{r.randint(200, 900)}ms"
    drop = _pct(r, 70, 95)
    return dict(
        svc=[svc], title=f"{svc} p99 at {p99}",
        lead=f"{svc} p99 latency [[is|was]] {p99} (normally {base})",
        impact=f"most clients [[time|timed]] out before a response and completed orders [[are|were]] down {drop}",
        facts=["Requests that finish [[return|returned]] 200."],
        cause=_cause(r, c, svc, ("deploy", "db", "cache", "capacity")) if r.random() < 0.75 else None,
        extra=["Revenue per minute is a fraction of normal.", "No 5xx spike, it's all timeouts at the client."],
        actions=(f"Roll back the last {svc} change and scale {svc} out until p99 is back under 1s.",
                 f"Page the {team} on-call, shed non-checkout traffic and find what is slowing {svc}."),
        fix=f"brought {svc} p99 back to normal", followups=(f"Alert on {svc} p99 above 2s, not only on 5xx.",),
        alert=_lat_alert(svc, p99, "2s"),
        cust=dict(svc=[comp], title=f"Slow {comp.lower()}", status=[f"{comp} is extremely slow and most attempts to {verb} time out."],
                  says=[f"{comp} takes forever, most of the time it just times out. We've barely had any orders in the last hour."],
                  sum=f"{comp} is so slow that most attempts to {verb} time out"),
        tags=[])


def _cdn_miss_storm(r, c):
    hit = _pct(r, 1, 9)
    load = f"{r.randint(25, 60)}s"
    return dict(
        svc=["CDN", "storefront-web"], title="CDN cache hit ratio collapsed",
        lead=f"CDN cache hit ratio [[is|was]] {hit} (normally 94%) and storefront-web page loads [[take|took]] {load}",
        impact="most visitors [[leave|left]] before the page [[renders|rendered]]",
        facts=[], cause=r.choice((None, dict(text=f"A CDN config change at {c['tc']} added a Vary: Cookie header.",
                                             short=f"a CDN config change at {c['tc']}", event="CDN config change deployed.", comp=None,
                                             actions=(f"Revert the {c['tc']} CDN config change and purge nothing until hit ratio recovers.",),
                                             fix="reverted the CDN config change",
                                             followups=("Review CDN header changes against hit-ratio dashboards before rollout.",)))),
        extra=["Origin CPU is pegged at 100%.", "Bounce rate is above 90%."],
        actions=("Check for a recent CDN configuration change, revert it and add origin capacity until the cache warms.",),
        fix="restored CDN caching", followups=("Alert on CDN hit ratio below 80%.",),
        alert=_metric_alert("CDN", "CacheHitRatioLow", 'cdn.cache_hit_ratio{zone="storefront"}', hit, "80%", "<"),
        cust=dict(svc=["Website"], title="Website very slow", status=[f"The Website is loading very slowly for most visitors."],
                  says=[f"Your website takes {load} to load, our customers are giving up."],
                  sum="the Website is loading very slowly for most visitors"),
        tags=[])


def _wrong_prices(r, c):
    disc = r.choice(("90%", "99%", "100%", "a factor of 100"))
    n = _num(r, 300, 4000)
    loss = f"${r.randint(40, 900)}k"
    return dict(
        svc=["pricing-service", "checkout-api"], title=f"Wrong prices at checkout",
        lead=f"pricing-service [[is returning|returned]] prices off by {disc} and checkout-api [[accepts|accepted]] them",
        impact=f"about {n} orders [[have been|were]] placed at the wrong price, an estimated {loss} lost",
        facts=[], cause=_cause(r, c, "pricing-service", ("deploy", "flag")),
        extra=["Deal sites picked it up.", "Order volume is 6x normal."],
        actions=("Put checkout-api in maintenance mode, roll back pricing-service and list the affected orders for finance.",
                 "Stop checkout-api from taking orders, revert pricing-service and freeze fulfilment of the mispriced orders."),
        fix="rolled back pricing-service", followups=("Add a sanity check in checkout-api that rejects prices far below cost.",),
        alert=_metric_alert("checkout-api", "AverageOrderValueAnomaly", "avg:orders.value{env:prod}", "-91%", "-40%", "<"),
        cust=None, tags=[])


def _login_slow(r, c):
    p50 = f"{r.randint(15, 40)}s"
    to = _pct(r, 60, 85)
    return dict(
        svc=["auth-service"], title="Login extremely slow",
        lead=f"auth-service login p50 [[is|was]] {p50}",
        impact=f"{to} of login attempts [[time|timed]] out on the client and most users [[cannot|could not]] get in",
        facts=[], cause=_cause(r, c, "auth-service", ("db", "cache", "capacity", "deploy")),
        root="bcrypt cost was raised recently.",
        extra=["Users already signed in are fine.", "bcrypt cost was raised recently."],
        actions=("Scale auth-service out and roll back its most recent change.",
                 "Page the identity on-call and fix the slow auth-service dependency."),
        fix="restored auth-service latency", followups=("Alert on login p50, not only p99.",),
        alert=_lat_alert("auth-service", p50, "2s", name="LoginLatencyHigh"),
        cust=dict(svc=["Login"], title="Login slow", status=["Login is very slow and most attempts time out."],
                  says=["Login just spins for ages and then times out. Nobody in our office can get in."],
                  sum="login is very slow and most attempts time out"),
        tags=["threshold"])


# ---- SEV2 degradation ----

def _partial_errors(r, c):
    svc, comp, verb, team = r.choice(CORE)
    rate = _pct(r, 8, 40)
    code = r.choice(("502", "503", "500", "504"))
    where = r.choice(("", f" in {c['region']}", " for mobile clients", " for logged-in users"))
    return dict(
        svc=[svc], title=f"{svc} {code}s{where}",
        lead=f"{svc} [[is returning|returned]] HTTP {code} for about {rate} of requests{where}",
        impact=r.choice(("retries [[succeed|succeeded]] sometimes", f"customers [[see|saw]] intermittent failures when trying to {verb}")),
        facts=[], cause=_cause(r, c, svc, ("deploy", "config", "flag", "db", "node")) if r.random() < 0.75 else None,
        extra=["No alerts on the database.", "Errors are spread evenly across pods."],
        actions=(f"Roll back the last change to {svc} and watch the {code} rate.",
                 f"Page the {team} on-call and drain the failing {svc} pods."),
        fix=f"brought the {svc} error rate back to baseline", followups=(f"Add an error-rate gate to {svc} deploys.",),
        alert=_err_alert(svc, rate),
        cust=dict(svc=[comp], title=f"Elevated errors on {comp}",
                  status=[f"Some customers see errors when trying to {verb}; about {rate} of attempts fail."],
                  says=[f"About {rate} of our attempts to {verb} fail with an error, then work on retry."],
                  sum=f"about {rate} of attempts to {verb} fail"),
        tags=["threshold"])


def _latency_major(r, c):
    svc, comp = r.choice((("search-api", "Search"), ("accounts-api", "Dashboard"), ("graphql-gateway", "Web app"),
                          ("booking-api", "Bookings"), ("orders-service", "Order history")))
    p95 = f"{r.randint(4, 12)}s"
    base = f"{r.randint(150, 600)}ms"
    return dict(
        svc=[svc], title=f"{svc} slow",
        lead=f"{svc} p95 [[is|was]] {p95} (normally {base}) for all users",
        impact="requests [[complete|completed]] but many users [[give|gave]] up",
        facts=[], cause=_cause(r, c, svc, ("deploy", "db", "cache", "node", "capacity")) if r.random() < 0.7 else None,
        root="Slow query log shows a sequential scan.",
        extra=["CPU on the service itself is fine.", "Slow query log shows a sequential scan."],
        actions=(f"Find the slow dependency of {svc} (check the DB slow log) and roll back the last change.",
                 f"Scale {svc} and its database read replicas while the slow path is found."),
        fix=f"brought {svc} latency back down", followups=(f"Add a p95 SLO alert for {svc}.",),
        alert=_lat_alert(svc, p95, "1s", name="HighLatencyP95"),
        cust=dict(svc=[comp], title=f"{comp} slow", status=[f"{comp} is responding slowly for all customers."],
                  says=[f"{comp} takes {p95} or more to load every time, it's making the product unusable for our team."],
                  sum=f"{comp} is responding very slowly"),
        tags=[])


def _queue_delay(r, c):
    what, svc = r.choice((("order confirmation emails", "notifications-service"), ("webhooks", "webhooks-dispatcher"),
                          ("payout notifications", "payouts-worker"), ("shipping label generation", "shipping-worker"),
                          ("push notifications", "push-gateway")))
    delay = f"{r.randint(30, 120)} minutes"
    lag = r.choice((f"{r.randint(300, 990)}k", f"{r.uniform(1, 4):.1f}M"))
    return dict(
        svc=[svc, "Kafka"], title=f"{what} delayed",
        lead=f"{what} [[are|were]] delayed by about {delay} for all customers",
        impact=None, facts=[f"{svc} consumer lag on Kafka [[is|was]] {lag} messages and growing."],
        cause=_cause(r, c, svc, ("deploy", "db", "capacity")) if r.random() < 0.6 else None,
        root="Consumers keep rebalancing.",
        extra=["No messages are lost, they are just late.", "Consumers keep rebalancing."],
        actions=(f"Scale the {svc} consumers and find out why they fell behind.",
                 f"Add {svc} consumer replicas and watch the Kafka lag drain."),
        fix=f"scaled {svc} consumers", followups=(f"Alert on {svc} lag in minutes, not messages.",),
        alert=_metric_alert(svc, "KafkaConsumerLagHigh", f'sum(kafka_consumergroup_lag{{group="{_slug(svc)}"}})', lag, "50k"),
        cust=dict(svc=[what], title=f"Delayed {what}", status=[f"{_cap(what)} are delayed by about {delay}."],
                  says=[f"Our {what} are arriving about {delay} late."], sum=f"{what} are delayed by about {delay}"),
        tags=[])


def _rate_limited(r, c):
    share = _pct(r, 10, 35)
    return dict(
        svc=["api-gateway"], title="Legit API clients getting 429",
        lead=f"api-gateway [[is returning|returned]] HTTP 429 to about {share} of API customers who [[are|were]] under their quota",
        impact="their integrations [[retry|retried]] and [[fall|fell]] behind",
        facts=[], cause=_cause(r, c, "api-gateway", ("config", "flag", "deploy")),
        root="The rate limiter counts per IP instead of per key for customers behind a NAT.",
        extra=["The rate limiter counts per IP instead of per key for customers behind a NAT.", "Dashboard traffic is fine."],
        actions=("Find what changed in the api-gateway rate limiter and revert it, then tell affected customers to retry.",),
        fix="reverted the limiter change", followups=("Test rate-limit changes against a replay of real traffic.",),
        alert=_metric_alert("api-gateway", "RateLimitedRatioHigh",
                            'sum(rate(gateway_responses_total{code="429"}[5m])) / sum(rate(gateway_responses_total[5m]))', share, "2%"),
        cust=dict(svc=["Public API"], title="Unexpected 429 rate limits",
                  status=["Some Public API customers receive rate-limit errors below their quota."],
                  says=["We keep getting 429 Too Many Requests from your Public API even though we're way under our quota."],
                  sum="Public API customers receive 429 rate-limit errors below their quota"),
        tags=["threshold"])


# ---- SEV3 degradation ----

def _minor_errors(r, c):
    svc, comp, verb, team = r.choice(CORE)
    rate = _pct(r, 0.4, 3)
    who = r.choice((f"users on Safari 15", f"a single customer, {r.choice(ORGS)}", "users of the old mobile app version",
                    f"requests routed through {c['region']}"))
    return dict(
        svc=[svc], title=f"Intermittent {svc} errors",
        lead=f"{svc} [[is failing|failed]] about {rate} of requests, all from {who}",
        impact="a retry [[works|worked]]", facts=[],
        cause=_cause(r, c, svc, ("deploy", "config")) if r.random() < 0.4 else None,
        extra=["Overall success rate is within SLO.", "Two tickets so far."],
        actions=(f"Reproduce the {svc} failure for {who} and file a fix; no rollback needed yet.",
                 f"Check {svc} logs for the failing requests from {who}."),
        fix=f"fixed the {svc} edge case", followups=(f"Add a test for the {svc} failure.",),
        alert=_err_alert(svc, rate, thr="0.5%", name="ErrorRateElevated"),
        cust=dict(svc=[comp], title=f"Occasional errors on {comp}", status=[f"A small number of {comp.lower()} requests fail; retrying works."],
                  says=[f"Every now and then {comp.lower()} fails with an error, retry works."],
                  sum=f"a small number of {comp.lower()} requests fail and a retry works"),
        tags=["threshold"])


def _noncore_slow(r, c):
    svc, comp, verb, workaround = r.choice(FEATURES)
    t = f"{r.randint(20, 90)}s"
    return dict(
        svc=[svc], title=f"{svc} slow",
        lead=f"{svc} [[takes|took]] about {t} to respond, so users [[wait|waited]] that long to {verb}",
        impact=f"{workaround}", facts=[],
        cause=_cause(r, c, svc, ("deploy", "db", "cache")) if r.random() < 0.5 else None,
        root="A batch job is hammering the same database.",
        extra=["Only a few percent of sessions use it.", "A batch job is hammering the same database."],
        actions=(f"Profile {svc} and check what else is loading its database.", f"Scale {svc} and check the slow query log."),
        fix=f"brought {svc} back to normal speed", followups=(f"Set a latency SLO for {svc}.",),
        alert=_lat_alert(svc, t, "5s"),
        cust=dict(svc=[comp], title=f"{comp} slow", status=[f"{comp} is slow; {_tense(workaround, False)}."],
                  says=[f"{comp} is really slow today, about {t} to load."], sum=f"{comp} is slow"),
        tags=[])


def _internal_slow(r, c):
    tool, _, slows, workaround = r.choice(INTERNAL)
    how = r.choice((f"{tool} [[is|was]] very slow, pages [[take|took]] {r.randint(20, 90)}s",
                    f"requests to {tool} [[queue|queued]] for {r.randint(5, 30)} minutes",
                    f"{tool} [[times|timed]] out for about a third of requests"))
    return dict(
        svc=[tool], title=f"{tool} slow", lead=how, impact=f"{slows} [[are|were]] crawling",
        facts=[f"Workaround: {workaround}."], cause=None,
        root="Disk on the host is at 91%.",
        extra=["Started after the weekly maintenance window.", "Disk on the host is at 91%."],
        actions=(f"Check {tool}'s host resources and restart it during a quiet window.", f"Ask the internal-tools team to scale {tool}."),
        fix=f"scaled {tool}", followups=(f"Add capacity alerts for {tool}.",),
        alert=_metric_alert(tool, "SlowResponses", f'probe_duration_seconds{{job="{_slug(tool)}"}}', "40s", "10s"),
        cust=None, internal=True, tags=[])


def _stale_reads(r, c):
    lag = f"{r.randint(20, 120)}s"
    db = r.choice(DATABASES)
    return dict(
        svc=[f"{db} replica", "order history page"], title=f"{db} replica lag",
        lead=f"the {db} replica [[is|was]] {lag} behind",
        impact="a few users [[see|saw]] stale order status on the order history page until it [[catches|caught]] up",
        facts=["Writes and checkout [[are|were]] unaffected."], cause=None,
        root="A large analytics query is running on the replica.",
        extra=["A large analytics query is running on the replica.", "The primary is healthy."],
        actions=(f"Find what is holding back the {db} replica (long queries, disk IO) and clear it, then watch the lag fall.",),
        fix="killed the analytics query", followups=("Move analytics to a dedicated replica.",),
        alert=_metric_alert(f"{db} replica", "ReplicationLagHigh", 'pg_replication_lag_seconds', lag, "10s"),
        cust=None, tags=[])


def _browser_specific(r, c):
    browser = r.choice(("Safari 16", "Firefox ESR", "Samsung Internet", "Edge on Windows 10"))
    widget, comp = r.choice((("date picker", "Bookings"), ("address autocomplete", "Checkout"),
                             ("file drop zone", "Dashboard"), ("coupon field", "Shopping cart")))
    return dict(
        svc=[comp], title=f"{widget} broken on {browser}",
        lead=f"the {widget} in {comp} [[does|did]] nothing on {browser}",
        impact="users [[can|could]] still type the value by hand", facts=[f"{browser} [[is|was]] about 3% of sessions."],
        cause=None, root="Console shows a TypeError in the bundle.",
        extra=["Console shows a TypeError in the bundle.", "Other browsers are fine."],
        actions=(f"Reproduce on {browser} and ship a polyfill or fix for the {widget}.",),
        fix="shipped a fix", followups=(f"Add {browser} to the browser test matrix.",),
        alert=None,
        cust=dict(svc=[comp], title=f"{widget} doesn't work", status=[f"The {widget} in {comp} does not work on {browser}."],
                  says=[f"The {widget} in {comp} doesn't open on {browser}. I can type it manually."],
                  sum=f"the {widget} in {comp} does not work on {browser}"),
        tags=["threshold"])


# ---- SEV4 degradation ----

def _cosmetic(r, c):
    page, what = r.choice((("pricing page", "'Entreprise' is misspelled in the plan table"),
                           ("marketing homepage", "the hero image is stretched on wide screens"),
                           ("footer", "the copyright year still says 2021"),
                           ("admin console", "the dark-mode icons are invisible"),
                           ("careers page", "one job link points to a filled position"),
                           ("docs site", "the code sample tabs overlap on mobile"),
                           ("login page", "the logo is the old green one"),
                           ("invoice email", "the logo is blurry")))
    return dict(
        svc=[page], title=f"{page}: {what}",
        lead=f"on the {page}, {what}", impact="nothing [[is|was]] broken functionally", facts=[], when="none",
        cause=None, extra=["Screenshot attached.", "Marketing noticed it during a review."],
        actions=(f"File a ticket for the web team to fix the {page}; no incident needed.",
                 f"Queue a fix for the {page} in the next release."),
        fix="fixed it", followups=(f"Add the {page} to visual regression tests.",),
        alert=None,
        cust=dict(svc=[page], title=f"Issue on the {page}", status=[f"On the {page}, {what}."],
                  says=[f"On your {page}, {what}."], sum=f"on the {page}, {what}",
                  actions=(f"Thank the customer and file a ticket for the web team to fix the {page}; no incident needed.",
                           f"Reply to the customer and queue the {page} fix for the next release.")),
        internal=page == "admin console", tags=[])


def _internal_anomaly(r, c):
    svc = r.choice(CORE + FEATURES)[0]
    what, val, thr, name, expr = r.choice((
        (f"CPU on one {svc} node [[is|was]] at 93%", "93%", "90%", "HighCPU", f'node_cpu_utilisation{{service="{svc}"}}'),
        (f"memory on {svc} [[is|was]] creeping up (78% and rising)", "78%", "75%", "MemoryGrowth",
         f'container_memory_working_set_bytes{{container="{svc}"}}'),
        (f"disk on the {svc} log volume [[is|was]] at 81%", "81%", "80%", "DiskFillingUp",
         f'node_filesystem_avail_bytes{{mountpoint="/var/log",service="{svc}"}}'),
        (f"{svc} GC pauses [[are|were]] up to 180ms", "180ms", "150ms", "GCPauseHigh", f'jvm_gc_pause_seconds_max{{service="{svc}"}}')))
    p99 = f"{r.randint(80, 300)}ms"
    return dict(
        svc=[svc], title=f"{name} on {svc}", lead=what,
        impact=f"{svc} p99 [[is|was]] {p99} (normal) and error rate [[is|was]] flat", facts=[], cause=None,
        root="Started after the weekly batch.",
        extra=["Started after the weekly batch.", "The alert has fired twice this month."],
        actions=(f"Watch {svc} through the day and open a ticket to tune the {name} threshold.",
                 f"No mitigation needed; schedule a look at {svc} resource limits."),
        fix="tuned the alert", followups=(f"Make the {name} alert a ticket, not a page.",),
        alert=_metric_alert(svc, name, expr, val, thr),
        cust=None, internal=True, alarm=r.random() < 0.6, tags=[])


def _blip_recovered(r, c):
    svc = r.choice(CORE)[0]
    secs = r.randint(20, 90)
    p99 = f"{r.randint(2, 6)}s"
    return dict(
        svc=[svc], title=f"{svc} latency blip",
        lead=f"{svc} p99 [[spiked|spiked]] to {p99} for {secs} seconds and [[recovered|recovered]] on its own",
        impact="no errors, no customer tickets", facts=[], cause=None,
        root="Lines up with a garbage-collection pause on one pod.",
        extra=["Lines up with a garbage-collection pause on one pod.", "Nothing deployed around then."],
        actions=(f"Note the {svc} blip in the on-call log and check whether it repeats.",),
        fix="nothing needed", followups=(f"Look at GC settings on {svc} if the blip repeats.",),
        alert=_lat_alert(svc, p99, "1s"),
        cust=None, internal=True, tags=[])


def _scary_config_no_impact(r, c):
    svc = r.choice(CORE)[0]
    cl = r.choice(CLUSTERS)
    mins = r.randint(2, 9)
    return dict(
        svc=[svc, f"{cl} cluster"], title=f"Wrong config applied to {cl}",
        lead=f"the staging config for {svc} [[was|was]] applied to the {cl} cluster by mistake at {c['tc']} and reverted {mins} minutes later",
        impact=f"{svc} p99 [[went|went]] from 120ms to 160ms in that window, inside the SLO, and no requests failed",
        facts=[], cause=None, root="The deploy pipeline allowed a manual kubectl apply.",
        extra=["The deploy pipeline allowed a manual kubectl apply.", "Nobody noticed until the audit log."],
        actions=(f"Lock down manual applies to {cl} and review the audit log; no mitigation needed.",),
        fix="reverted the config", followups=(f"Block kubectl apply to {cl} outside the pipeline.",),
        alert=None, cust=None, internal=True, tags=["cause_vs_impact"])


# ---- SEV1 security ----

def _public_bucket(r, c):
    bucket = r.choice(("customer-exports-prod", "invoices-archive", "kyc-documents", "support-attachments", "user-uploads-prod"))
    ips = r.randint(3, 40)
    n = _num(r, 5000, 400000)
    return dict(
        svc=[bucket], title=f"S3 bucket {bucket} public",
        lead=f"the S3 bucket {bucket} [[is|was]] publicly readable since a Terraform change at {c['tc']}",
        impact=f"access logs [[show|showed]] downloads from {ips} unknown IPs of files holding data for about {n} customers",
        facts=[], cause=None, root="The change was meant for a static-assets bucket.",
        extra=["The change was meant for a static-assets bucket.", "Block Public Access was off at the account level."],
        actions=(f"Re-enable Block Public Access on {bucket} now, keep the access logs and start the breach process with legal.",
                 f"Make {bucket} private, snapshot its access logs and engage the security incident lead."),
        fix=f"blocked public access on {bucket}", followups=("Turn on account-level Block Public Access and scan Terraform plans for public ACLs.",),
        alert=dict(raw=f"AWS Config rule s3-bucket-public-read-prohibited: NON_COMPLIANT\nResource: arn:aws:s3:::{bucket}\nRegion: {c['region']}"),
        cust=None, tags=[])


def _leaked_key_used(r, c):
    key = "AKIA" + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(12))
    repo = r.choice(("a public GitHub repo", "a public gist", "a public npm package", "a Stack Overflow answer"))
    did = r.choice(("downloaded objects from the prod customer-data bucket", "listed and read the users table snapshot",
                    "launched 40 GPU instances and read secrets from SSM"))
    return dict(
        svc=["AWS access key", "prod account"], title=f"Leaked AWS key {key} used",
        lead=f"AWS access key {key} [[was|was]] committed to {repo} and [[has been|was]] used from an unknown IP",
        impact=f"CloudTrail [[shows|showed]] the key {did}",
        facts=[], cause=None, extra=["The key belongs to a CI deploy user.", "The commit was pushed at 09:12 and found by a researcher."],
        actions=(f"Deactivate {key} now, then review every CloudTrail event it made in the prod account.",
                 f"Disable {key}, page the security on-call and list everything the key touched."),
        fix=f"deactivated {key}", followups=("Enforce secret scanning on push for every repo.",),
        alert=dict(raw=f"GuardDuty finding: UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS\n"
                       f"Severity: 8.0 (High)\nAccess key: {key}\nRegion: {c['region']}"),
        cust=None, tags=[])


def _attacker_deleted(r, c):
    # An actor destroyed data: security, not data_loss (the spec's precedence).
    n = _num(r, 300, 20000)
    what = r.choice(("customer projects", "customer accounts", "order records", "support tickets"))
    return dict(
        svc=["admin console", "prod database"], title=f"{what} deleted via compromised admin account",
        lead=f"a compromised support admin account [[deleted|deleted]] {n} {what} through the admin console",
        impact=f"the deletions [[hit|hit]] the prod database and customers [[are|were]] missing their data",
        facts=["The logins [[came|came]] from an IP in a country where we have no staff."], cause=None,
        root="The account had no MFA.",
        extra=["The account had no MFA.", "The last good snapshot is from 02:00."],
        actions=("Disable the compromised admin account, revoke all admin sessions and restore the deleted records from the last snapshot.",
                 "Lock the admin console to the VPN, kill the attacker's sessions and start restoring from the last snapshot."),
        fix="disabled the account and restored from snapshot", followups=("Require MFA on every admin console account.",),
        alert=None, cust=None, tags=["precedence"])


def _ransomware(r, c):
    hosts = r.randint(4, 30)
    return dict(
        svc=["file servers", "order-processing workers"], title="Ransomware on file servers",
        lead=f"{hosts} file servers [[have|had]] their shares encrypted with a ransom note 'RESTORE_FILES.txt'",
        impact="the order-processing workers that read those shares [[are|were]] failing and orders [[are|were]] not shipping",
        facts=[], cause=None, root="EDR flagged a PowerShell dropper on a jump host first.",
        extra=["EDR flagged a PowerShell dropper on a jump host first.", "Offline backups exist."],
        actions=("Isolate the encrypted file servers from the network, disable the accounts used and call the incident response retainer.",
                 "Cut network access for the encrypted file servers and preserve them for forensics before restoring."),
        fix="isolated the hosts", followups=("Remove standing admin access from jump hosts.",),
        alert=dict(raw=f"CrowdStrike Falcon: Critical detection\nTactic: Impact / Data Encrypted for Impact\nHosts: {hosts}"),
        cust=None, tags=["precedence"])


def _cross_tenant(r, c):
    what = r.choice(("invoices", "order history", "support conversations", "patient appointments", "shipping addresses"))
    svc = r.choice(("accounts-api", "graphql-gateway", "reporting-api"))
    return dict(
        svc=[svc], title=f"Customers can see other customers' {what}",
        lead=f"{svc} [[returns|returned]] other tenants' {what} to logged-in customers after a cache key change",
        impact=f"customer data [[is|was]] exposed across accounts", facts=[],
        cause=_cause(r, c, svc, ("deploy", "flag")), root="The response cache is keyed by URL only.",
        extra=["At least 3 customers have reported it.", "The response cache is keyed by URL only."],
        actions=(f"Turn off the {svc} response cache immediately and roll back; then measure which tenants saw whose {what}.",
                 f"Roll back {svc} now and start the data exposure process with security and legal."),
        fix=f"rolled back {svc}", followups=("Add tenant ID to every cache key and a cross-tenant test.",),
        alert=None,
        cust=dict(svc=["dashboard"], title=f"I can see another company's {what}",
                  status=[f"Some customers could see {what} from other accounts in the dashboard."],
                  says=[f"Not sure how urgent this is, but in the dashboard I'm seeing {what} that belong to a different company."],
                  sum=f"customers can see {what} belonging to other accounts in the dashboard"),
        tags=[])


def _malicious_dependency(r, c):
    pkg = r.choice(("ua-parser-js", "event-stream", "colors-extra", "node-ipc-utils", "ctx", "request-helpers"))
    svc = r.choice(("storefront-web", "checkout-api", "mobile-bff"))
    return dict(
        svc=[svc, pkg], title=f"Malicious {pkg} release in {svc}",
        lead=f"{svc} [[shipped|shipped]] with a compromised release of {pkg} that [[posts|posted]] environment variables to an external host",
        impact=f"prod secrets of {svc}, including the payment API key, [[were|were]] sent out",
        facts=[], cause=None, extra=["The release was published 6 hours ago.", "Egress logs show the calls."],
        actions=(f"Roll {svc} back to a build without {pkg}, rotate every secret it held and block the exfil host at egress.",),
        fix=f"rolled {svc} back", followups=("Pin dependencies with lockfile hashes and delay new releases by 48 hours.",),
        alert=dict(raw=f"Socket.dev alert: Known malware in {pkg}\nProject: {svc}\nSeverity: critical"),
        cust=None, tags=[])


# ---- SEV2 security ----

def _leaked_key_unused(r, c):
    # (credential as written, system it opens: the affected service, what it can do)
    cred, system, power = r.choice((("a Stripe restricted key", "Stripe", "create refunds and payouts"),
                                    ("the prod database password for billing-db", "billing-db", "write to every billing table"),
                                    ("a Twilio auth token", "Twilio", "send SMS as us, including login codes"),
                                    ("a GitHub deploy key", "GitHub", "push to the main branch of the payments repo"),
                                    ("a SendGrid API key", "SendGrid", "send email from our domain")))
    where, found = r.choice((("a public GitHub repo", "GitHub secret scanning"),
                             ("a public Slack channel with external guests", "A partner engineer in the channel"),
                             ("a pastebin linked from a forum", "Our leak monitor")))
    return dict(
        svc=[system], title=f"{system} credential exposed",
        lead=f"{cred} [[was|was]] posted in {where} at {c['tc']}",
        impact=f"logs [[show|showed]] no use of it from unknown IPs so far, but it [[can|could]] {power}",
        facts=[f"{found} [[reported|reported]] it."], cause=None, extra=["The author has been contacted.", "The credential has no IP allow-list."],
        actions=(f"Revoke and rotate {cred} now, then review everything done with it in {system} since {c['tc']}.",
                 f"Rotate {cred} and page the security on-call to watch {system} for use of the old one."),
        fix=f"rotated the {system} credential", followups=(f"Add pre-commit secret scanning and an IP allow-list for {system} keys.",),
        alert=dict(raw=f"Secret scanning alert: {system} credential detected\nLocation: {where}\nValidity: active"),
        cust=None, tags=[])


def _cred_stuffing(r, c):
    # The actor makes logins fail for real users: security, not degradation.
    fails = _num(r, 5000, 40000)
    locked = _num(r, 800, 9000)
    return dict(
        svc=["auth-service"], title="Credential stuffing against login",
        lead=f"auth-service [[is seeing|saw]] {fails} failed logins per minute from a botnet",
        impact=f"{locked} real customers [[are|were]] locked out by the lockout rule; no successful takeover is confirmed yet",
        facts=[], cause=None, extra=["The requests rotate through residential proxies.", "Login latency is up 30%."],
        actions=("Turn on the WAF bot challenge for the login endpoint and check for successful logins from the attacking IPs.",),
        fix="enabled the bot challenge", followups=("Add breached-password checks at login.",),
        alert=_metric_alert("auth-service", "FailedLoginSpike", 'sum(rate(auth_login_failed_total[1m]))', fails, "500"),
        cust=dict(svc=["login"], title="Account locked", status=["Some customers are locked out of login due to an automated attack."],
                  says=["Half our team is locked out of login this morning, and we got 'suspicious sign-in attempt' emails we didn't trigger.",
                        "Did something happen on your side?"],
                  sum="customers are locked out of login"),
        tags=["precedence"])


def _ci_compromise(r, c):
    action = r.choice(("tj-actions/changed-files", "a third-party GitHub Action", "a build plugin"))
    return dict(
        svc=["CI pipeline", "deploy secrets"], title="Compromised CI dependency",
        lead=f"{action} used in our CI pipeline [[was|was]] compromised and [[printed|printed]] secrets into public build logs",
        impact="deploy secrets [[are|were]] potentially exposed; no unauthorized use in prod has been seen",
        facts=[], cause=None, root="Our build logs are public for the open-source repos.",
        extra=["Our build logs are public for the open-source repos.", "The upstream maintainer confirmed it."],
        actions=("Rotate every secret the CI runners could read and pin actions to commit SHAs.",),
        fix="rotated the CI secrets", followups=("Pin all third-party actions by SHA.",),
        alert=dict(raw=f"StepSecurity Harden-Runner: unexpected outbound call from CI job\nAction: {action}"),
        cust=None, tags=[])


def _agent_takeover_contained(r, c):
    mins = r.randint(3, 15)
    return dict(
        svc=["support agent account", "admin console"], title="Support agent account phished",
        lead=f"a support agent's account [[was|was]] phished and used to log in to the admin console",
        impact=f"the session [[was|was]] revoked after {mins} minutes and the audit log [[shows|showed]] only the home page loaded",
        facts=[], cause=None, root="The phishing page mimicked our SSO.",
        extra=["The phishing page mimicked our SSO.", "Other agents got the same mail."],
        actions=("Reset the agent's credentials and MFA, block the phishing domain and pull the same mail from other inboxes.",),
        fix="revoked the session", followups=("Move agents to phishing-resistant MFA.",),
        alert=None, cust=None, tags=[])


# ---- SEV3 security ----

def _internal_token_leak(r, c):
    tool = r.choice(("internal wiki", "Sentry", "Grafana", "Jira"))
    return dict(
        svc=[tool], title=f"{tool} read-only token leaked",
        lead=f"a read-only API token for {tool} [[was|was]] pasted in a public gist",
        impact=f"it [[can|could]] read internal pages only, no customer data, and there [[is|was]] no sign of use",
        facts=[], cause=None, extra=["The gist was deleted by its author.", "Found by our secret scanner."],
        actions=(f"Revoke the {tool} token and check its access log for the past week.",),
        fix="revoked the token", followups=("Shorten token lifetimes for internal tools.",),
        alert=dict(raw=f"GitGuardian incident: {tool} API token\nSource: public gist\nStatus: triggered"),
        cust=None, internal=True, tags=[])


def _edr_isolated(r, c):
    laptop = f"LT-{r.randint(1000, 9999)}"
    return dict(
        svc=[f"laptop {laptop}"], title=f"Malware on laptop {laptop}",
        lead=f"EDR [[flagged|flagged]] an infostealer on laptop {laptop} and isolated it automatically",
        impact="the owner [[has|had]] no production access and no outbound data transfer [[is|was]] seen",
        facts=[], cause=None, root="Came from a cracked video editor download.",
        extra=["Came from a cracked video editor download.", "The user is in marketing."],
        actions=(f"Reimage {laptop}, reset the owner's passwords and sessions.",),
        fix=f"reimaged {laptop}", followups=("Block unsigned installers on managed laptops.",),
        alert=dict(raw=f"SentinelOne: Threat detected and mitigated\nEndpoint: {laptop}\nClassification: Infostealer"),
        cust=None, internal=True, tags=[])


def _exposed_dashboard(r, c):
    tool = r.choice(("Grafana", "Kibana", "Prometheus", "Jaeger UI"))
    return dict(
        svc=[tool], title=f"{tool} reachable without auth",
        lead=f"a bug bounty hunter [[reports|reported]] that {tool} [[is|was]] reachable from the internet without login", when="at",
        impact="it [[shows|showed]] infrastructure metrics and hostnames but no customer data",
        facts=[], cause=None, root="The ingress annotation for auth was dropped in a refactor.",
        extra=["The ingress annotation for auth was dropped in a refactor.", "Payout will be low."],
        actions=(f"Put {tool} back behind SSO and check its access logs for other visitors.",),
        fix=f"put {tool} behind SSO", followups=("Scan for unauthenticated internal tools weekly.",),
        alert=None, cust=None, internal=True, tags=[])


def _offboarded_access(r, c):
    tool = r.choice(("internal wiki", "Jira", "the staging VPN", "Figma"))
    days = r.randint(2, 20)
    return dict(
        svc=[tool], title=f"Offboarded contractor still had {tool} access",
        lead=f"an offboarded contractor's account on {tool} [[is|was]] still active and [[logged|logged]] in {days} days after offboarding",
        when="at",
        impact=f"{tool} [[holds|held]] no customer data", facts=[], cause=None,
        root="The offboarding checklist missed this tool.",
        extra=["The offboarding checklist missed this tool.", "The contractor says it was a saved session."],
        actions=(f"Disable the account on {tool}, review what it viewed and add {tool} to the offboarding checklist.",),
        fix="disabled the account", followups=(f"Put {tool} behind SSO so offboarding covers it.",),
        alert=None, cust=None, internal=True, tags=[])


# ---- SEV4 security ----

def _phishing_reported(r, c):
    lure = r.choice(("a fake DocuSign request", "an 'IT password expiry' notice", "a fake invoice from a supplier",
                     "a Microsoft 365 login prompt", "a fake HR bonus letter"))
    n = r.randint(2, 40)
    return dict(
        svc=["email"], title="Phishing email reported",
        lead=f"{n} employees [[reported|reported]] a phishing email with {lure}",
        impact="proxy logs [[show|showed]] nobody clicked the link and no credentials [[were|were]] entered",
        facts=[], cause=None, extra=["The sender domain was registered yesterday.", "It reached 160 inboxes."],
        actions=("Block the sender domain and purge the message from all inboxes.",),
        fix="purged the message", followups=("Thank the reporters and reuse the sample in awareness training.",),
        alert=dict(raw=f"PhishER: user-reported message clustered\nReports: {n}\nVerdict: malicious"),
        cust=None, internal=True, tags=[])


def _internal_cert_expired(r, c):
    host = r.choice(("build-cache.internal", "ldap-02.corp", "old-jenkins.internal", "metrics-proxy.corp", "test-vault.internal"))
    return dict(
        svc=[host], title=f"Expired cert on {host}",
        lead=f"the vulnerability scanner [[flagged|flagged]] an expired TLS certificate on {host}",
        impact="the host [[is|was]] not exposed to the internet and nothing [[calls|called]] it over TLS", facts=[],
        cause=None, extra=["It is slated for decommissioning.", "Scanner severity says 'high'."],
        actions=(f"Decommission {host} or renew its certificate in working hours.",),
        fix="renewed it", followups=("Add internal hosts to the certificate inventory.",),
        alert=dict(raw=f"Tenable finding: SSL Certificate Expiry (plugin 15901)\nHost: {host}\nScanner severity: High"),
        cust=None, internal=True, alarm=True, tags=[])


def _dev_cve(r, c):
    pkg, cve = r.choice((("jest-environment", "CVE-2024-21538"), ("webpack-dev-server", "CVE-2025-30360"),
                         ("eslint-plugin", "CVE-2023-26136"), ("nodemon", "CVE-2022-25883")))
    return dict(
        svc=[pkg], title=f"{cve} in {pkg}",
        lead=f"Dependabot [[flagged|flagged]] {cve} in {pkg}",
        impact=f"{pkg} [[is|was]] a dev-only dependency and [[is|was]] not in any production build",
        facts=[], cause=None, extra=["CVSS 7.5.", "A patched version is available."],
        actions=(f"Merge the Dependabot bump for {pkg} in the normal sprint.",),
        fix="merged the bump", followups=("Auto-merge patch bumps for dev dependencies.",),
        alert=dict(raw=f"Dependabot alert: {cve} (high)\nPackage: {pkg} (devDependencies)"),
        cust=None, internal=True, alarm=True, tags=[])


def _blocked_bruteforce(r, c):
    n = _num(r, 3000, 90000)
    target = r.choice(("admin console", "SSH bastion", "VPN", "auth-service"))
    return dict(
        svc=[target], title=f"Brute force against {target}",
        lead=f"{n} login attempts against the {target} [[came|came]] from a single ASN within an hour",
        impact="all [[were|were]] blocked by rate limits and there [[were|were]] no successful logins",
        facts=[], cause=None, extra=["The ASN is a known scanner.", "Accounts use MFA."],
        actions=(f"Block the ASN at the edge and keep the {target} rate limits as they are.",),
        fix="blocked the ASN", followups=("Nothing further.",),
        alert=_metric_alert(target, "BruteForceAttempts", "sum(rate(login_failed_total[5m]))", n, "1000"),
        cust=None, internal=True, alarm=True, tags=[])


def _public_cve_not_affected(r, c):
    cve, lib = r.choice((("CVE-2024-3094", "xz-utils"), ("CVE-2021-44228", "log4j"), ("CVE-2023-44487", "nginx"),
                         ("CVE-2024-6387", "OpenSSH"), ("CVE-2022-3602", "OpenSSL")))
    return dict(
        svc=[lib], title=f"{cve} ({lib}) assessment",
        lead=f"we [[checked|checked]] our fleet for {cve} ({lib})",
        impact="no production system [[runs|ran]] an affected version", facts=[], cause=None,
        extra=["Two dev VMs were patched anyway.", "Customers have asked about it."],
        actions=(f"Publish the {cve} statement for customers and close the ticket.",),
        fix="published the statement", followups=("Keep the SBOM current.",),
        alert=None,
        cust=dict(svc=[lib], title=f"{cve} ({lib})", status=[f"We are aware of {cve} ({lib}). No production system runs an affected version."],
                  says=[f"Are you affected by {cve} ({lib})? Please confirm ASAP, our security team needs an answer today."],
                  sum=f"a customer asks whether we are affected by {cve} ({lib})", question=True,
                  org_sum=f"{{org}} asks whether we are affected by {cve} ({lib}) and wants an answer today",
                  status_sum=f"no production system runs a version affected by {cve} ({lib})",
                  actions=(f"Answer with the {cve} statement: no production system runs an affected {lib} version.",),
                  status_actions=(f"Leave the {cve} notice up and re-scan new hosts for {lib} as they are built.",)),
        internal=True, tags=[])


# ---- SEV1 data_loss ----

def _bad_migration(r, c):
    # Corruption that also throws errors: data_loss over outage.
    mig = f"{c['date'].replace('-', '')}_{r.choice(('split_address', 'currency_to_minor_units', 'drop_legacy_status', 'backfill_tax_ids'))}"
    table = r.choice(("orders", "customers", "subscriptions", "invoices"))
    n = _num(r, 20000, 900000)
    return dict(
        svc=["orders-db", "checkout-api"], title=f"Migration {mig} corrupted {table}",
        lead=f"schema migration {mig} [[has overwritten|overwrote]] a column in the {table} table on orders-db", when="at",
        impact=f"about {n} customer rows [[are|were]] corrupted and checkout-api [[is throwing|threw]] 500s when it [[reads|read]] them",
        facts=[], cause=None, root="The migration had only been tested against an empty staging table.",
        extra=["The migration ran at " + c["tc"] + " as part of the deploy.", "Point-in-time recovery is enabled."],
        actions=(f"Stop writes to the {table} table, then restore the corrupted rows from the snapshot before {mig} ran (PITR).",
                 f"Pause the deploy pipeline and restore {table} on orders-db to a point before {mig}."),
        fix=f"restored {table} from point-in-time recovery", followups=("Run migrations against a prod snapshot copy first.",),
        alert=_err_alert("checkout-api", _pct(r, 20, 60)),
        cust=None, tags=["precedence"])


def _cleanup_deleted(r, c):
    n = _num(r, 1000, 120000)
    what = r.choice(("active customer accounts", "customer projects", "paid subscriptions", "customer documents"))
    job = r.choice(("the nightly cleanup cron", "the GDPR purge job", "the stale-account reaper"))
    return dict(
        svc=[job, "Postgres primary"], title=f"{job} deleted {what}",
        lead=f"{job} [[deleted|deleted]] {n} {what} from the Postgres primary because of a wrong WHERE clause",
        impact="those customers [[see|saw]] empty workspaces", facts=["The last full backup [[is|was]] from 02:00."],
        cause=None, root="The job was changed last week.",
        extra=["The job was changed last week.", "Soft-delete was removed last quarter."],
        actions=(f"Disable {job} and restore the deleted rows from the 02:00 backup into a side database for reinsertion.",),
        fix="restored from the 02:00 backup", followups=("Put a row-count guard on destructive jobs.",),
        alert=_metric_alert("Postgres primary", "TableRowCountDrop", "pg_stat_user_tables_n_live_tup", "-" + n, "-1,000", "<"),
        cust=dict(svc=["workspace"], title="All our data is gone", status=["Some customers are seeing empty workspaces."],
                  says=["We logged in this morning and our workspace is completely empty. Years of data. Please tell me this is recoverable."],
                  sum="customers see empty workspaces"),
        tags=[])


def _failover_lost_writes(r, c):
    db = r.choice(DATABASES)
    mins = r.randint(2, 12)
    n = _num(r, 800, 30000)
    return dict(
        svc=[db], title=f"{db} failover lost writes",
        lead=f"the {db} failover promoted a replica that [[was|was]] {mins} minutes behind",
        impact=f"about {n} orders and payments written in that window [[are|were]] missing from the new primary",
        facts=[], cause=None, extra=["The old primary's disk is still attached.", "Customers are asking where their orders went."],
        actions=(f"Keep the old {db} primary's volume untouched and extract the missing {mins} minutes of writes from its log for replay.",),
        fix="replayed the missing writes", followups=("Block promotion of replicas with lag above 5 seconds.",),
        alert=_metric_alert(db, "ReplicationLagHigh", "pg_replication_lag_seconds", f"{mins * 60}s", "30s"),
        cust=None, tags=[])


def _lifecycle_deleted(r, c):
    bucket = r.choice(("user-uploads-prod", "customer-attachments", "media-originals"))
    n = _num(r, 50000, 3000000)
    return dict(
        svc=[bucket], title=f"Lifecycle rule deleted {bucket} objects",
        lead=f"an S3 lifecycle rule [[deleted|deleted]] {n} customer files older than 30 days from {bucket}",
        impact="versioning [[is|was]] off, so the files [[are|were]] gone", facts=[],
        cause=None, root="The rule was meant for the tmp/ prefix.",
        extra=["The rule was meant for the tmp/ prefix.", "A cross-region replica exists for some objects."],
        actions=(f"Remove the lifecycle rule on {bucket} now and look for copies of the deleted files in replicas and backups.",),
        fix="removed the rule", followups=("Enable versioning on every customer bucket.",),
        alert=None, cust=None, tags=[])


def _ledger_events_lost(r, c):
    hours = r.randint(2, 9)
    return dict(
        svc=["payment-events topic", "ledger"], title="Payment events lost before ledger consumed them",
        lead=f"the payment-events topic [[lost|lost]] {hours} hours of messages after retention was set to 1 hour",
        impact="the ledger [[is|was]] missing those payments, so balances and payouts [[are|were]] wrong", facts=[],
        cause=None, root="A Terraform change had set retention.ms on the topic to 3600000.",
        extra=["The payments provider can resend events for 7 days.", "Finance flagged the mismatch."],
        actions=(f"Freeze payouts, then request a replay of the last {hours} hours of events from the provider.",),
        fix="replayed the events", followups=("Alert on topic retention changes.",),
        alert=_metric_alert("ledger", "LedgerReconciliationMismatch", "ledger_recon_diff_total", "1,204", "0"),
        cust=None, tags=[])


# ---- SEV2 data_loss ----

def _search_index_missing(r, c):
    share = _pct(r, 12, 35)
    return dict(
        svc=["search index", "search-api"], title="Products missing from search",
        lead=f"the search index [[is|was]] missing about {share} of products after the reindex job crashed halfway",
        impact="customers [[cannot|could not]] find those products in search-api results",
        facts=["The catalog database [[is|was]] intact."], cause=None,
        root="The alias switched to the partial index anyway.",
        extra=["The alias switched to the partial index anyway.", "Browse pages still list everything."],
        actions=("Switch search back to the previous complete index and rerun the reindex job.",),
        fix="restored the previous index", followups=("Check document count before switching aliases.",),
        alert=_metric_alert("search-api", "IndexDocCountDrop", "es_index_docs_count", share, "5%"),
        cust=dict(svc=["search"], title="Products missing from search", status=["Some products are missing from search results."],
                  says=["Half our catalog doesn't show up in search anymore. The products are still in the admin, they just vanished from search."],
                  sum="products are missing from search results"),
        tags=["threshold"])


def _usage_events_dropped(r, c):
    hours = r.randint(2, 8)
    return dict(
        svc=["usage metering", "billing"], title="Usage events dropped",
        lead=f"usage metering [[dropped|dropped]] {hours} hours of usage events because of a schema mismatch",
        impact="billing [[will|would]] under-count usage for every customer unless the events [[are|were]] recovered",
        facts=["The raw events [[are|were]] still in S3."], cause=None,
        root="The schema change came from the producer team.",
        extra=["Invoices run at month end.", "The schema change came from the producer team."],
        actions=(f"Fix the schema mismatch in usage metering and backfill the {hours} hours from the raw events in S3.",),
        fix="backfilled from S3", followups=("Add schema compatibility checks to the producer.",),
        alert=_metric_alert("usage metering", "EventsDropped", "metering_events_dropped_total", _num(r, 10000, 900000), "0"),
        cust=None, tags=[])


def _replica_divergence(r, c):
    n = _num(r, 200, 4000)
    return dict(
        svc=["read replica", "order history page"], title="Read replica diverged",
        lead="the read replica behind the order history page [[has|had]] diverged from the primary",
        impact=f"about {n} customers [[see|saw]] missing or outdated orders there",
        facts=["The primary [[is|was]] correct."], cause=None,
        root="The replica was restored from an old snapshot last week.",
        extra=["pt-table-checksum found 14 tables out of sync.", "The replica was restored from an old snapshot last week."],
        actions=("Take the diverged read replica out of the pool and rebuild it from the primary.",),
        fix="rebuilt the replica", followups=("Run checksums weekly.",),
        alert=None,
        cust=dict(svc=["order history"], title="Orders missing from history", status=["Some customers see missing orders in their order history."],
                  says=["My last three orders are missing from my order history, but I got the confirmation emails."],
                  sum="orders are missing from the order history"),
        tags=["threshold"])


def _duplicate_invoices(r, c):
    n = _num(r, 200, 900)
    return dict(
        svc=["billing batch job", "invoices"], title="Duplicate invoice lines",
        lead=f"the billing batch job ran twice and [[wrote|wrote]] duplicate line items into {n} invoices",
        impact="the invoices [[are|were]] not charged yet; the charge run is at 06:00",
        facts=[], cause=None, root="The cron lock expired early.",
        extra=["The cron lock expired early.", "Finance can void invoices in bulk."],
        actions=(f"Pause the 06:00 charge run and remove the duplicate line items from the {n} invoices.",),
        fix="removed the duplicates", followups=("Make the billing batch job idempotent.",),
        alert=_metric_alert("billing batch job", "DuplicateRunDetected", "cron_job_runs_total", "2", "1"),
        cust=None, tags=["threshold"])


# ---- SEV3 data_loss ----

def _warehouse_partition_missing(r, c):
    date = c["date"]
    return dict(
        svc=["Airflow", "data warehouse"], title="Warehouse partition missing",
        lead=f"the Airflow load for {date} [[failed|failed]] silently and the data warehouse [[has|had]] no partition for that day",
        impact="internal BI dashboards [[show|showed]] a gap; source data [[is|was]] intact", facts=[],
        cause=None, root="The task was marked success with 0 rows.",
        extra=["The task was marked success with 0 rows.", "Finance uses the dashboard on Mondays."],
        actions=(f"Re-run the Airflow load for {date} and add a row-count check to the DAG.",),
        fix="re-ran the load", followups=("Fail DAG runs with zero rows.",),
        alert=_metric_alert("data warehouse", "PartitionMissing", "dw_partition_rows", "0", "1", "<"),
        cust=None, internal=True, tags=[])


def _small_user_data(r, c):
    n = r.randint(5, 60)
    what, feat = r.choice((("saved filters", "reporting-api"), ("draft messages", "chat-widget"), ("wishlists", "wishlist-service"),
                           ("saved searches", "search-suggest")))
    return dict(
        svc=[feat], title=f"{what} lost",
        lead=f"{n} users [[lost|lost]] their {what} in {feat} after a cache flush",
        impact=f"the {what} [[are|were]] easy to recreate and nothing else [[is|was]] affected",
        facts=[], cause=None, root="The data was only ever stored in Redis.",
        extra=["The data was only ever stored in Redis.", "Two users wrote in."],
        actions=(f"Tell the {n} users, and store {what} durably so that a cache flush cannot lose them again.",),
        fix="apologised to users", followups=(f"Persist {what} in the database.",),
        alert=None,
        cust=dict(svc=[what], title=f"My {what} disappeared", status=[f"A small number of users lost their {what}."],
                  says=[f"All my {what} are gone since this morning."], sum=f"users lost their {what}"),
        tags=["threshold"])


def _thumbnails_lost(r, c):
    org = r.choice(ORGS)
    n = _num(r, 200, 9000)
    return dict(
        svc=["image-resizer"], title=f"Thumbnails lost for {org}",
        lead=f"image-resizer [[deleted|deleted]] {n} thumbnails for {org}",
        impact="the originals [[are|were]] intact and thumbnails [[can|could]] be regenerated", facts=[],
        cause=None, root="The tenant was being migrated between buckets.",
        extra=["The tenant was being migrated between buckets.", "Placeholders show in the gallery."],
        actions=(f"Run the thumbnail regeneration job for {org}.",),
        fix="regenerated thumbnails", followups=("Add a dry-run to the bucket migration.",),
        alert=None,
        cust=dict(svc=["thumbnails"], title="Thumbnails missing", status=["Some image thumbnails are missing for one customer."],
                  says=["All our thumbnails show a grey placeholder. The full images open fine."],
                  sum="image thumbnails are missing for one customer"),
        tags=[])


def _log_gap(r, c):
    hours = r.randint(1, 5)
    return dict(
        svc=["Fluent Bit", "Kibana"], title="Application logs dropped",
        lead=f"Fluent Bit [[dropped|dropped]] {hours} hours of application logs after its buffer filled",
        impact="Kibana [[has|had]] a gap for that window; metrics and traces [[are|were]] complete",
        facts=[], cause=None, root="The output was throttled by the ES cluster.",
        extra=["Audit logs go through a separate pipeline.", "The output was throttled by the ES cluster."],
        actions=("Raise the Fluent Bit buffer and switch it to filesystem buffering.",),
        fix="raised the buffer", followups=("Alert on Fluent Bit dropped records.",),
        alert=_metric_alert("Fluent Bit", "FluentBitDroppedRecords", "fluentbit_output_dropped_records_total", _num(r, 10000, 2000000), "0"),
        cust=None, internal=True, tags=[])


# ---- SEV4 data_loss ----

def _staging_backup_failed(r, c):
    return dict(
        svc=["staging database backup"], title="Staging backup failed",
        lead="the nightly staging database backup [[failed|failed]] with 'disk full' on the backup host",
        impact="production backups [[completed|completed]] and [[were|were]] verified", facts=[],
        cause=None, extra=["Staging holds synthetic data only.", "It failed last Tuesday too."],
        actions=("Clean up old archives on the backup host and rerun the staging backup tonight.",),
        fix="cleaned up the host", followups=("Add retention to the staging backup host.",),
        alert=_metric_alert("staging database backup", "BackupJobFailed", 'backup_last_success_age_hours{env="staging"}', "26h", "24h"),
        cust=None, internal=True, tags=[])


def _near_miss_delete(r, c):
    table = r.choice(("orders", "users", "subscriptions", "payments"))
    return dict(
        svc=[f"{table} table"], title=f"DELETE without WHERE on prod {table}",
        lead=f"an engineer [[ran|ran]] DELETE without a WHERE clause on the prod {table} table inside a transaction and [[rolled|rolled]] it back",
        impact="zero rows [[were|were]] lost and nothing [[was|was]] blocked longer than 2 seconds",
        facts=[], cause=None, root="It was meant for a local database.",
        extra=["It was meant for a local database.", "The psql prompt looks the same in both."],
        actions=(f"Write it up as a near miss and give prod psql a red prompt and read-only default role.",),
        fix="rolled back", followups=("Default prod sessions to a read-only role.",),
        alert=None, cust=None, internal=True, tags=["cause_vs_impact"])


def _old_snapshot_checksum(r, c):
    months = r.randint(6, 14)
    return dict(
        svc=["backup verification"], title="Old snapshot checksum mismatch",
        lead=f"backup verification [[flagged|flagged]] a checksum mismatch on a snapshot from {months} months ago",
        impact="every newer snapshot [[verifies|verified]] fine and the old one [[is|was]] past its use",
        facts=[], cause=None, root="It was written during a storage migration.",
        extra=["It was written during a storage migration.", "Nobody has restored from it."],
        actions=("Mark the snapshot as invalid and confirm this week's restore test passes.",),
        fix="marked it invalid", followups=("Nothing further.",),
        alert=_metric_alert("backup verification", "SnapshotChecksumMismatch", "backup_verify_failures_total", "1", "0"),
        cust=None, internal=True, alarm=r.random() < 0.5, tags=[])


def _dev_db_wiped(r, c):
    env = r.choice(("dev database", "QA database", "demo tenant database"))
    return dict(
        svc=[env], title=f"{env} wiped",
        lead=f"a test script [[dropped|dropped]] every table in the {env}",
        impact="it [[held|held]] synthetic seed data only and [[can|could]] be reseeded in 10 minutes",
        facts=[], cause=None, root="The script read the wrong env file.",
        extra=["The script read the wrong env file.", "Production is on a separate account."],
        actions=(f"Reseed the {env} and make the test script refuse to run without an explicit target.",),
        fix="reseeded it", followups=("Require an explicit env flag in test scripts.",),
        alert=None, cust=None, internal=True, tags=[])


# ---- scenarios added for the rarer hard cases ----

def _primary_failover_blip(r, c):
    # A scary cause (the primary died) with no customer impact: SEV4.
    db = r.choice(DATABASES)
    secs = r.randint(4, 20)
    return dict(
        svc=[db], title=f"{db} host died, automatic failover",
        lead=f"the {db} host died and automatic failover to the standby [[completed|completed]] in {secs} seconds",
        impact="client retries [[absorbed|absorbed]] it: no failed customer requests, error rate [[peaks|peaked]] at 0.01%",
        facts=[], cause=None, root="The host had a failing memory module.",
        extra=["A replacement standby is being built.", "Replication to the new standby is healthy."],
        actions=(f"Build a new standby for {db} and confirm replication; nothing customer-facing to do.",
                 f"Replace the dead {db} host and keep an eye on replication lag."),
        fix=f"rebuilt the {db} standby", followups=("Run a failover drill quarterly to keep it this boring.",),
        alert=_metric_alert(db, "PostgresPrimaryDown", f'pg_up{{instance="{_slug(db)}-1"}}', "0", "1", "<"),
        cust=None, internal=True, alarm=True, tags=["cause_vs_impact"])


def _terraform_near_miss(r, c):
    zone = f"{c['domain']} hosted zone"
    return dict(
        svc=[zone], title=f"Terraform plan would have destroyed the {zone}",
        lead=f"a terraform plan for prod-dns [[showed|showed]] it would destroy the {zone}, and the reviewer stopped the apply",
        impact="nothing [[was|was]] applied and DNS [[is|was]] untouched", facts=[], cause=None,
        root="A module rename made Terraform treat the zone as a new resource.",
        extra=["A moved block fixes the plan.", "The pipeline has no guard against destroying zones."],
        actions=("Fix the plan so it no longer destroys the zone, and add prevent_destroy on the zone before any apply.",),
        fix="fixed the plan", followups=("Put prevent_destroy on every DNS zone.",),
        alert=None, cust=None, internal=True, tags=["cause_vs_impact"])


def _bucket_public_briefly(r, c):
    bucket = r.choice(("customer-exports-prod", "invoices-archive", "support-attachments"))
    mins = r.randint(2, 9)
    return dict(
        svc=[bucket], title=f"{bucket} briefly public",
        lead=f"a Terraform apply at {c['tc']} [[made|made]] the S3 bucket {bucket} public for {mins} minutes before the guardrail reverted it",
        impact="access logs [[show|showed]] zero requests from outside our account in that window", facts=[],
        cause=None, root="The module default for acl changed in a version bump.",
        extra=["The guardrail Lambda worked as designed.", "Security reviewed the logs twice."],
        actions=(f"Find the Terraform change that made {bucket} public and fix it; keep the access logs, no disclosure needed.",),
        fix="confirmed the guardrail revert", followups=("Add a plan-time check that fails on public ACLs.",),
        alert=dict(raw=f"AWS Config rule s3-bucket-public-read-prohibited: NON_COMPLIANT -> COMPLIANT\nResource: arn:aws:s3:::{bucket}"),
        cust=None, internal=True, alarm=True, tags=["cause_vs_impact"])


def _ransomware_false_positive(r, c):
    host = r.choice(("build-agent-07", "fileserver-02", "backup-01", "ci-runner-14"))
    n = _num(r, 5000, 80000)
    return dict(
        svc=[host], title=f"Ransomware detection on {host}",
        lead=f"EDR [[raised|raised]] a 'ransomware behaviour' detection on {host} after {n} files were renamed in a minute",
        impact="it [[was|was]] the nightly backup job compressing files; the files [[are|were]] intact and no other host [[is|was]] involved",
        facts=[f"The EDR isolated {host} automatically."], cause=None, root="The backup job changed its temp-file naming last week.",
        extra=["The detection is marked as a false positive."],
        actions=(f"Release {host} from isolation and add an EDR exclusion for the backup job's process.",),
        fix=f"released {host}", followups=("Give backup jobs a signed binary the EDR recognises.",),
        alert=dict(raw=f"CrowdStrike Falcon: Critical detection\nTactic: Impact / Data Encrypted for Impact\nHost: {host}"),
        cust=None, internal=True, alarm=True, tags=["cause_vs_impact"])


def _defacement(r, c):
    # An actor took the homepage over: security outranks the outage it causes.
    return dict(
        svc=["storefront-web", "CMS"], title="Storefront homepage defaced",
        lead="the storefront-web homepage [[shows|showed]] a defacement message instead of the shop",
        impact=("customers [[cannot|could not]] reach the catalog from the homepage; "
                "an attacker [[logged|logged]] in to the CMS with a leaked editor password"),
        facts=[], cause=None, root="The editor reused a password that appeared in a public breach dump.",
        extra=["Screenshots are circulating on social media.", "The CMS has no MFA for editors."],
        actions=("Lock all CMS editor accounts, restore the homepage from the last published version and preserve the CMS audit log.",),
        fix="restored the homepage", followups=("Enforce MFA and SSO for the CMS.",),
        alert=None,
        cust=dict(svc=["homepage"], title="Your homepage has been hacked?", status=["Our homepage was modified by an unauthorized party."],
                  says=["Your homepage shows some hacker message instead of the shop. Is my account data safe?"],
                  sum="the homepage shows a message from an unauthorized party"),
        tags=["precedence"])


def _dlq_dropped(r, c):
    # Delay and loss together: data_loss outranks degradation.
    what, svc = r.choice((("push notifications", "push-gateway"), ("webhooks", "webhooks-dispatcher"),
                          ("order confirmation emails", "notifications-service")))
    n = _num(r, 3000, 90000)
    share = _pct(r, 3, 15)
    return dict(
        svc=[svc], title=f"{what} dropped via DLQ",
        lead=(f"{svc} [[is|was]] {r.randint(20, 90)} minutes behind and {n} {what} (about {share}) "
              "[[were|were]] dead-lettered to a DLQ with 1-hour retention"),
        impact=f"those {what} [[are|were]] gone and will not be delivered", facts=[], cause=None,
        root="A poison message made consumers crash-loop and push batches to the DLQ.",
        extra=["The DLQ retention was set for a test and never reverted.", "Lag is now draining."],
        actions=(f"Raise the DLQ retention, find why {svc} dead-lettered messages and rebuild the lost {what} from the source tables.",),
        fix="removed the poison message", followups=("Alert on DLQ volume, not only consumer lag.",),
        alert=_metric_alert(svc, "DLQMessagesHigh", f'sum(rate(dlq_messages_total{{service="{_slug(svc)}"}}[5m]))', n, "0"),
        cust=None, tags=["precedence", "threshold"])


def _kafka_disk_full(r, c):
    # Producers failing outright (an outage) that also dropped data: data_loss.
    mins = r.randint(15, 60)
    return dict(
        svc=["Kafka cluster", "clickstream-collector"], title="Kafka disk full, click events dropped",
        lead=f"the Kafka cluster [[ran|ran]] out of disk and clickstream-collector [[failed|failed]] every produce call for {mins} minutes",
        impact=f"those {mins} minutes of click events [[were|were]] dropped, so customer analytics dashboards [[have|had]] a gap",
        facts=[], cause=None, root="Retention was raised for a backfill and nobody resized the disks.",
        extra=["Producers have no local buffer.", "The brokers are back after a retention cut."],
        actions=("Cut topic retention to free disk, confirm producers recover and mark the gap on the customer dashboards.",),
        fix="cut retention", followups=("Alert on Kafka disk at 75%.", "Give clickstream-collector a local spill buffer."),
        alert=_metric_alert("Kafka cluster", "KafkaDiskFull", 'kafka_log_dir_free_bytes', "0", "10%", "<"),
        cust=None, tags=["precedence"])


SCENARIOS = {
    ("SEV1", "outage"): [_core_down, _db_down_takes_core, _mobile_crash, _payments_provider_down, _edge_down],
    ("SEV2", "outage"): [_region_down, _platform_login_down, _feature_fully_down, _alt_payment_down, _sso_down],
    ("SEV3", "outage"): [_feature_down, _internal_tool_down, _single_tenant_integration, _sandbox_down],
    ("SEV4", "outage"): [_staging_down, _legacy_endpoint_down, _canary_caught, _redundant_node_down, _primary_failover_blip,
                         _terraform_near_miss],
    ("SEV1", "degradation"): [_checkout_latency_extreme, _cdn_miss_storm, _wrong_prices, _login_slow],
    ("SEV2", "degradation"): [_partial_errors, _latency_major, _queue_delay, _rate_limited],
    ("SEV3", "degradation"): [_minor_errors, _noncore_slow, _internal_slow, _stale_reads, _browser_specific],
    ("SEV4", "degradation"): [_cosmetic, _internal_anomaly, _blip_recovered, _scary_config_no_impact],
    ("SEV1", "security"): [_public_bucket, _leaked_key_used, _attacker_deleted, _ransomware, _cross_tenant, _malicious_dependency,
                           _defacement],
    ("SEV2", "security"): [_leaked_key_unused, _cred_stuffing, _ci_compromise, _agent_takeover_contained],
    ("SEV3", "security"): [_internal_token_leak, _edr_isolated, _exposed_dashboard, _offboarded_access],
    ("SEV4", "security"): [_phishing_reported, _internal_cert_expired, _dev_cve, _blocked_bruteforce, _public_cve_not_affected,
                           _bucket_public_briefly, _ransomware_false_positive],
    ("SEV1", "data_loss"): [_bad_migration, _cleanup_deleted, _failover_lost_writes, _lifecycle_deleted, _ledger_events_lost],
    ("SEV2", "data_loss"): [_search_index_missing, _usage_events_dropped, _replica_divergence, _duplicate_invoices, _dlq_dropped,
                            _kafka_disk_full],
    ("SEV3", "data_loss"): [_warehouse_partition_missing, _small_user_data, _thumbnails_lost, _log_gap],
    ("SEV4", "data_loss"): [_staging_backup_failed, _near_miss_delete, _old_snapshot_checksum, _dev_db_wiped],
}

# Scenarios whose situation would never get a postmortem (nothing to review beyond a ticket).
NO_POSTMORTEM = ("_cosmetic", "_public_cve_not_affected", "_dev_cve", "_internal_cert_expired", "_blocked_bruteforce",
                 "_internal_anomaly", "_legacy_endpoint_down", "_phishing_reported", "_dev_db_wiped", "_browser_specific")
# Scenarios whose situation would never get a status-page post, public or internal.
NO_STATUS = ("_terraform_near_miss", "_ransomware_false_positive", "_single_tenant_integration", "_cosmetic",
             "_small_user_data", "_thumbnails_lost", "_agent_takeover_contained",
             "_near_miss_delete", "_dev_db_wiped", "_offboarded_access", "_edr_isolated", "_browser_specific",
             "_scary_config_no_impact", "_internal_anomaly", "_dev_cve")


# --------------------------------------------------------------------------------------------------
# Shared pieces of the renderers.

ALERT_LEVELS = ("critical", "high", "warning", "info")


def _stated(r, sev: str, scale, p_far=0.3):
    """The priority a reporter or monitor states: usually the true level or one off, sometimes far off.
    Returns (label, misleading) where misleading means two or more levels away from the truth."""
    true = SEVERITIES.index(sev)
    if r.random() < p_far:
        i = r.choice([j for j in range(len(scale)) if abs(j - true) >= 2])
    elif r.random() < 0.3:
        i = min(len(scale) - 1, max(0, true + r.choice((-1, 1))))
    else:
        i = true
    return scale[i], abs(i - true) >= 2


# Tone a person adds: alarm for small things, a shrug for big ones (both tagged), or a fitting one.
ALARM = ("URGENT!!!", "P1 P1 P1", "🔥🔥🔥", "PROD IS ON FIRE", "this is really bad", "need eyes on this ASAP",
         "CRITICAL", "all hands please")
SHRUG = ("prob nothing but", "low prio, but", "not urgent, just flagging:", "minor thing:", "no rush, but",
         "might be nothing -")
FITTING = {"SEV1": ("this is bad", "declaring an incident", "big one", "🚨"),
           "SEV2": ("need someone from the owning team", "not great", "⚠️"),
           "SEV3": ("not super urgent", "heads up", "small one"),
           "SEV4": ("fyi", "no action needed i think", "just noting")}


def _tone(r, sev, p_mis=0.3):
    """A tone phrase and whether it misleads about the severity."""
    if r.random() < p_mis:
        return (r.choice(ALARM), True) if sev in ("SEV3", "SEV4") else (r.choice(SHRUG), True)
    return r.choice(FITTING[sev]), False


def _since(r, c, S, past):
    """The time phrase in front of the lead: "Since" for a state, "At" for an event (a lead like
    "the job [[deleted|deleted]] ..." reads wrong after "Since")."""
    if not c["T"] or S["when"] == "none":
        return ""
    if S["when"] == "at":
        return r.choice((f"At {c['T']}, ", f"Around {c['T']}, "))
    return r.choice((f"At {c['T']}, ", f"Starting {c['T']}, ", f"From {c['T']}, ")) if past else f"Since {c['T']}, "


def _lead(r, c, S, past):
    return _cap_text(_since(r, c, S, past) + _tense(S["lead"], past))


def _cap_text(s: str) -> str:
    """Capitalise a sentence start unless it is a name like checkout-api or mobile-bff."""
    return _cap(s) if s.split(" ", 1)[0].isalpha() else s


def _eng_rest(r, S, past, p_extra=0.4):
    """Everything after the lead in the engineering register, distractor at a random spot."""
    out = []
    if S["impact"]:
        out.append(_cap_text(_tense(S["impact"], past)) + ".")
    out += [_tense(f, past) for f in S["facts"]]
    if S["cause"]:
        out.append(_tense(S["cause"]["text"], past))
    out += _some(r, S["extra"], p_extra)
    if S["dist"]:
        out.insert(r.randint(1, len(out)) if out else 0, _tense(S["dist"], past))
    return out


def _distractor_sentence(r, names, register):
    a, b = names[0], names[-1]
    two = len(names) == 2
    if register == "eng":
        opts = [f"{a} [[is|was]] not affected.", f"We checked {a} too; it [[is|was]] healthy.",
                f"{a} latency [[is|was]] normal (p99 {r.randint(40, 400)}ms).", f"{a} error rate [[is|was]] at baseline.",
                f"Unrelated: {a} had a deploy an hour earlier, but its dashboards [[are|were]] clean.",
                f"The {a} alert from this morning [[is|was]] planned maintenance, not this."]
        if two:
            opts += [f"{a} and {b} [[look|looked]] fine.", f"No errors on {a} or {b}.",
                     f"{a} and {b} [[are|were]] unaffected."]
    elif register == "status":
        opts = [f"This incident does not affect {a}.", f"All other services, including {a}, are operating normally."]
        if two:
            opts += [f"{a} and {b} are operating normally.", f"{a} and {b} are not affected."]
    else:  # the customer's own voice
        opts = [f"No issues with {a} on our side though.", f"Weirdly, we have no trouble with {a}.",
                f"(Not sure it's related, but {a} is fine for us.)"]
        if two:
            opts += [f"{a} and {b} work fine.", f"{a} and {b} seem ok."]
    return r.choice(opts)


GENERIC_WORDS = ("the", "service", "api", "app", "svc", "web", "worker", "job", "cluster", "gateway", "console", "page",
                 "android", "ios", "s3", "batch", "program", "for")


def _pick_distractors(r, S, register):
    """1-2 names that the scenario does not mention, for a 'these are fine' sentence."""
    blob = " ".join([S["lead"], S["impact"] or "", S["title"], " ".join(S["facts"]), " ".join(S["extra"]),
                     S["cause"]["text"] if S["cause"] else "", " ".join(S["svc"])]).lower()
    if S["cust"]:
        blob += " " + " ".join(S["cust"]["status"] + S["cust"]["says"] + S["cust"]["svc"]).lower()
    # skip names that share a word with the scenario ("search-api" next to an affected "search index"): too close to call
    words = set(re.findall(r"[a-z0-9]+", blob))
    pool = [x for x, low, ws in DISTRACTOR_POOLS[register] if low not in blob and words.isdisjoint(ws)]
    return r.sample(pool, r.choice((1, 2, 2)))


def _pool(names):
    """(name, lowercase name, its non-generic words) for each candidate distractor, computed once."""
    return [(x, x.lower(), frozenset(re.findall(r"[a-z0-9]+", x.lower())) - frozenset(GENERIC_WORDS)) for x in names]


DISTRACTOR_POOLS = {"cust": _pool([x[1] for x in CORE + FEATURES]),
                    "eng": _pool(list(BYSTANDERS) + [x[0] for x in CORE + FEATURES + INTERNAL])}


# --------------------------------------------------------------------------------------------------
# Renderers: (r, c, S, view) -> (report text, extra hard-case tags). They frame the facts; they never
# change what happened. Every one renders the lead, impact, facts and cause (the summary may use them).

CASUAL_RULES = tuple((re.compile(a), b) for a, b in (
    (r"\brequests\b", "reqs"), (r"\babout (?=\d)", "~"), (r"\bminutes\b", "mins"), (r"\bproduction\b", "prod"),
    (r"\bdatabase\b", "db"), (r"\bbecause\b", "bc"), (r"\bwith\b", "w/"), (r"\bconfiguration\b", "config"),
    (r"\benvironment\b", "env"), (r"\band\b", "&"), (r"\bseconds\b", "secs"), (r"\b(is|are) (?=\w+ing\b)", ""),
    (r"\bthe (?=\w+ (is|are)\b)", ""), (r"\bpeople\b", "ppl"), (r"\bsomething\b", "smth"), (r"\byou\b", "u")))


def _casual(r, text, protect, rules, lower):
    """Slack register: lowercase, abbreviations (the writer's habits: `rules`), the odd typo. The names in
    `protect` (services, the time) and `code spans` stay verbatim: they are parked behind placeholders
    that no rule can touch (no digits-free word, no space) and put back at the end."""
    parked = []
    for p in sorted(protect, key=len, reverse=True):
        i = text.lower().find(p.lower())  # case-blind: a sentence may start "The Android app"
        while i >= 0:
            parked.append(text[i:i + len(p)])
            text = f"{text[:i]}\x00{len(parked) - 1}\x00{text[i + len(p):]}"
            i = text.lower().find(p.lower())
    pieces = text.split("`")
    for i in range(1, len(pieces), 2):  # odd pieces are inside backticks
        parked.append(f"`{pieces[i]}`")
        pieces[i] = f"\x00{len(parked) - 1}\x00"
    text = "".join(pieces)
    if lower:  # words only: IDs like CVE-2024-3094 or HTTP 502 keep their case
        text = " ".join(w if any(ch.isdigit() for ch in w) else w.lower() for w in text.split(" "))
    for a, b in rules:
        text = a.sub(b, text)
    words = text.split(" ")
    for j, w in enumerate(words):  # adjacent-letter swaps, never in numbers or names
        if len(w) >= 5 and w.isalpha() and r.random() < 0.03:
            k = r.randrange(1, len(w) - 2)
            words[j] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    text = " ".join(words)
    for i in range(len(parked) - 1, -1, -1):  # backwards: a code span may hold an earlier placeholder
        text = text.replace(f"\x00{i}\x00", parked[i])
    return text


# Investigation chatter that is true of any incident, so it never contradicts the facts.
CHATTER = {"big": ("looking at the dashboards now", "pulling logs", "i can take comms", "ok i'm IC", "do we need a status page post?",
                   "anyone from the owning team around?", "joining the bridge", "paging secondary", "starting a timeline doc",
                   "what changed in the last hour?", "checking deploy log", "which graph are you on?"),
           "small": ("ack", "looking", "i'll take it", "can this wait till morning?", "want a ticket for it?", "thx",
                     "checking", "ok", "seen, will follow up", "noted")}


def _render_chat(r, c, S, view):
    sev, T = c["sev"], c["T"]
    lead = _tense(S["lead"], False)
    if T and S["when"] == "since":
        lead = r.choice((f"since {T} {lead}", f"{lead} since {T}", f"started {T}: {lead}", f"as of {T} {lead}"))
    elif T and S["when"] == "at":
        lead = r.choice((f"at {T} {lead}", f"{lead} at {T}", f"around {T} {lead}"))
    sents = [lead] + _eng_rest(r, S, False, 0.3)
    if S.get("log") and r.random() < 0.35:
        sents.append(f"`{S['log']}`")
    protect = (S["svc"] + S["distractors"] + S["dist_names"] + ([S["cause"]["comp"]] if S["cause"] and S["cause"]["comp"] else [])
               + ([T] if T else []))
    lines, lower, rules = [], r.random() < 0.8, _some(r, CASUAL_RULES, 0.5)
    for s in sents:
        s = _casual(r, s.rstrip("."), protect, rules, lower)
        # chat people send clauses as separate messages
        parts = re.split(r"(?<=[a-z0-9%)]), (?=[a-z])|; ", s) if r.random() < 0.5 else [s]
        lines += [p for p in parts if p]
    tags = []
    tone, mis = _tone(r, sev, 0.3)
    if mis or r.random() < 0.6:
        if r.random() < 0.7:
            lines[0] = f"{tone} {lines[0]}"
        else:
            lines.append(tone)
        tags += ["misleading_priority"] if mis else []
    p1, p2, p3 = r.sample(PEOPLE, 3)
    calm = not (mis and sev in ("SEV3", "SEV4"))  # no "fyi" in front of "P1 P1 P1"
    opener = r.choice(("", "", "", "@oncall ", "@here ", f"@{p2} ") + (("heads up: ", "hey, ", "fyi ", "uh ") if calm else ()))
    lines[0] = opener + lines[0]
    big = sev in ("SEV1", "SEV2")
    closer = r.choice(("", "", "", "looking", "on it", f"cc @{p3}", "👀", "graphs in thread", "did anyone touch anything?")
                      + (("who's IC?", "opening an incident channel", "brb getting laptop") if big else ("will ticket it", "no rush")))
    if closer:
        lines.append(closer)
    if r.random() < 0.45 and len(lines) >= 2:  # a thread between two or three people, with some investigation chatter
        speakers = [p1, p2, p3][: r.choice((2, 2, 3))]
        chatter = r.sample(CHATTER["big" if big else "small"], r.choice((0, 0, 1, 2, 4)))
        for line in chatter:  # (chatter lines come from whoever did not speak last, below)
            lines.insert(r.randint(1, len(lines)), line)
        fmt = r.choice(("plain", "stamp", "slack"))
        m = c["m0"] + r.randint(1, 20)
        out, prev = [], None
        for j, line in enumerate(lines):
            who = (speakers[0] if j == 0 else r.choice([p for p in speakers if p != prev]) if line in chatter
                   else speakers[(j + r.randint(0, 1)) % len(speakers)])
            m += r.randint(0, 2)
            if fmt == "plain":
                out.append(f"{who}: {line}")
            elif fmt == "stamp":
                out.append(f"[{_hm(m)}] {who}: {line}")
            else:  # Slack copy-paste: a header only when the speaker changes
                h = (m // 60) % 24
                out.append(line if who == prev else f"{who}  {(h % 12) or 12}:{m % 60:02d} {'AM' if h < 12 else 'PM'}\n{line}")
            prev = who
        return "\n".join(out), tags
    return ("\n".join(lines) if r.random() < 0.75 or len(lines) > 4 else ". ".join(lines)), tags


def _render_alert(r, c, S, view):
    a, sev = S["alert"], c["sev"]
    if S.get("alarm"):  # the monitor pages loudly although nothing is wrong for anyone
        label, mis = r.choice(("critical", "high")), sev in ("SEV3", "SEV4")
    else:
        label, mis = _stated(r, sev, ALERT_LEVELS, 0.15)
    tags = ["misleading_priority"] if mis else []
    env = r.choice(("prod", "production", "prd"))
    T, date, reg, dom = c["T"], c["date"], c["region"], c["domain"]
    lead = _cap_text(_tense(S["lead"], False))
    rest = _eng_rest(r, S, False, 0.3)
    if "raw" in a:
        head = f"PagerDuty · Security on-call · #{r.randint(10000, 99999)} triggered\n" if r.random() < 0.4 else ""
        block = f"{head}{a['raw']}\nDetected: {date} {T}"
        rest = [lead + "."] + rest
    else:
        svc_l = _slug(a["svc"])
        fmt = r.choice(("prom", "datadog", "pagerduty", "cloudwatch", "grafana", "opsgenie", "sms", "slackbot"))
        kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", a["name"]).lower()
        if fmt == "prom":
            block = (f"[FIRING:{r.randint(1, 4)}] {a['name']} ({svc_l} {env} {label})\nLabels:\n - alertname = {a['name']}\n"
                     f" - service = {svc_l}\n - env = {env}\n - region = {reg}\n - severity = {label}\nAnnotations:\n"
                     f" - summary = {lead}\n - description = {a['prom']} is {a['value']} (threshold {a['op']} {a['thr']})\n"
                     f" - runbook_url = https://runbooks.{dom}/alerts/{kebab}\nStarted: {date} {T}")
        elif fmt == "datadog":
            pr = f"P{ALERT_LEVELS.index(label) + 1}"
            block = (f"[Triggered] [{pr}] {a['svc']}: {a['name']}\n{lead}.\nMetric: {a['dd']}\n"
                     f"Value: {a['value']} ({a['op']} {a['thr']} over the last 5m)\nenv:{env} region:{reg} · triggered {date} {T}\n"
                     f"https://app.datadoghq.com/monitors/{r.randint(1000000, 9999999)}\n@pagerduty-{svc_l} @slack-{svc_l}-alerts")
        elif fmt == "pagerduty":
            urg = "High" if label in ("critical", "high") else "Low"
            block = (f"PagerDuty ALERT · #{r.randint(10000, 99999)} triggered\nService: {a['svc']} · Urgency: {urg}\n"
                     f"{a['name']}: {lead}\nValue {a['value']} (threshold {a['op']} {a['thr']})\n"
                     f"Triggered: {date} {T} · Escalation policy: {svc_l}-primary")
        elif fmt == "cloudwatch":
            word = "greater than" if a["op"] == ">" else "less than"
            block = (f'ALARM: "{svc_l}-{kebab}" in {REGION_NAMES[reg]}\nAlarm Description: {lead}.\nState Change: OK -> ALARM\n'
                     f"Reason for State Change: Threshold Crossed: 1 out of the last 1 datapoints [{a['value']}] was {word} "
                     f"the threshold ({a['thr']}).\nMetric: {a['cw']}\nTimestamp: {date} {T}")
        elif fmt == "grafana":
            block = (f"[Alerting] {a['name']} ({label})\nValue: {a['value']} (threshold {a['op']} {a['thr']})\n"
                     f"Labels: alertname={a['name']}, service={svc_l}, env={env}, severity={label}\nSummary: {lead}\n"
                     f"Fired at {T} · https://grafana.{dom}/d/{r.randint(100, 999)}x{r.randint(10, 99)}")
        elif fmt == "sms":  # the pager text message: one line
            block = (f"[PD] #{r.randint(10000, 99999)} TRIGGERED {a['svc']}: {a['name']} {a['value']} ({a['op']} {a['thr']}) "
                     f"{env} {reg} {T} - {lead}")
        elif fmt == "slackbot":
            icon = ":red_circle:" if label in ("critical", "high") else ":large_yellow_circle:"
            block = f"{icon} *{a['name']}* {a['svc']} — {a['value']} ({a['op']} {a['thr']}) — {reg} {env} — since {T}\n> {lead}"
        else:
            block = (f"Opsgenie [{label.upper()}] {a['name']} on {a['svc']}\nMessage: {lead}\n"
                     f"Details: value={a['value']}, threshold={a['op']}{a['thr']}, env={env}\nCreated at: {date} {T}")
    if not rest or r.random() < 0.15 and not S["impact"] and not S["facts"] and not S["cause"] and not S["dist"]:
        return block, tags
    who = r.choice(PEOPLE)
    note = " ".join(rest)
    frame = r.choice((f"\n\nOn-call note ({who}): {note}", f"\n\n--\n{who}: {note}", f"\n\nAck'd by {who}. {note}",
                      f"\n\nNote: {note}"))
    return block + frame, tags


def _customer_text(r, c, S, org):
    """The customer's own words: when, what, a distractor maybe, colour, and a tone that may mislead."""
    cu, T = S["cust"], c["T"]
    says = list(cu["says"])
    if T and not cu.get("question"):
        says.insert(1, r.choice((f"We first noticed it around {T}.", f"It started around {T}.", f"First seen at {T}.")))
    if S["cdist"]:
        says.insert(r.randint(1, len(says)), S["cdist"])
    says += _some(r, ("We're on the Enterprise plan.", "Tried a different browser and clearing the cache.",
                      f"Our account ID is {r.randint(100000, 999999)}.", "Screenshot attached.",
                      "Can someone get back to me today?", f"This is affecting our whole team at {org}."), 0.2)
    if r.random() < 0.35:  # the long escalation: who they are and what they expect
        says += r.sample((f"For context, {org} has about {r.choice((40, 120, 300, 1500))} people using your product every day.",
                          "We already opened a ticket through the chat widget and got no answer.",
                          "Per our contract we expect a root cause analysis once this is resolved.",
                          "I've copied our account manager on this email.",
                          "Could you give us an ETA, even a rough one?",
                          "Our own customers have started asking us what is going on.",
                          "We had a similar problem last month and it took two days to get a reply.",
                          "Please call me on my mobile if that is faster."), r.randint(2, 4))
    return says


def _render_ticket(r, c, S, view):
    sev = c["sev"]
    tags = []
    if view == "cust":
        org = c["org"]
        name = _full_name(r)
        prio, mis = _stated(r, sev, r.choice((("Urgent", "High", "Normal", "Low"), ("P1", "P2", "P3", "P4"))), 0.35)
        tags += ["misleading_priority"] if mis else []
        says = _customer_text(r, c, S, org)
        if mis and r.random() < 0.6:
            says.append(r.choice(("This is critical for our business, please treat it as top priority!!",
                                  "We need this fixed TODAY.", "Escalating - this is unacceptable."))
                        if SEVERITIES.index(sev) >= 2 else r.choice(("No rush on this.", "Low priority, just letting you know.")))
        body = " ".join(says) if r.random() < 0.6 else "\n".join(says)
        if r.random() < 0.25:
            x = S["cust"]["svc"][0]
            env = r.choice(("Chrome 124 / macOS", "Edge / Windows 11", "iOS 17", "Firefox 125 / Ubuntu"))
            body += (f"\n\nSteps to reproduce:\n1. Log in as an admin user\n2. Open {x}\n3. Try again a few times"
                     f"\nExpected: it works as usual\nActual: see above\nEnvironment: {env}")
        subj = r.choice((S["cust"]["title"], S["cust"]["title"] + "?", "Re: " + S["cust"]["title"], S["cust"]["title"].lower()))
        if r.random() < 0.5:
            kind, channel = r.choice(("Incident", "Problem", "Question")), r.choice(("Web", "Email", "Chat"))
            text = (f"Ticket #{r.randint(10000, 99999)} · {subj}\nRequester: {name} ({org})\n"
                    f"Priority: {prio} · Type: {kind} · Channel: {channel}\n\n{body}")
        else:
            text = (f"Summary: {subj}\nReporter: {name} <{name.split()[0].lower()}@{_slug(org)}.com>\nOrganization: {org}\n"
                    f"Priority (set by customer): {prio}\nPlan: {r.choice(('Enterprise', 'Business', 'Starter', 'Pro'))}\n\nDescription:\n{body}")
        return text, tags
    prio, mis = _stated(r, sev, r.choice((("Highest", "High", "Medium", "Low"), ("P1", "P2", "P3", "P4"),
                                          ("Blocker", "Critical", "Major", "Minor"))), 0.3)
    tags += ["misleading_priority"] if mis else []
    key = r.choice(("OPS", "INC", "SRE", "PLAT", "SEC", "DATA", "INFRA"))
    desc = [_lead(r, c, S, False) + "."] + _eng_rest(r, S, False, 0.5)
    if S.get("log") and r.random() < 0.5:
        desc.append("{noformat}\n" + S["log"] + "\n{noformat}")
    body = " ".join(desc) if r.random() < 0.5 else "\n".join(desc)
    if r.random() < 0.4:
        body += (f"\n\nEnvironment: production ({c['region']})\nDashboard: https://grafana.{c['domain']}/d/{r.randint(100, 999)}"
                 + r.choice(("", f"\nRelated: {key}-{r.randint(100, 9999)}", "\nSlack: #ops-alerts")))
    text = (f"[{key}-{r.randint(100, 9999)}] {S['title']}\nType: {r.choice(('Incident', 'Bug', 'Task'))} · Priority: {prio} · "
            f"Status: {r.choice(('Open', 'To Do', 'Triage'))}\nReporter: {_full_name(r)} · Component: {S['svc'][0]}\n\n"
            f"{r.choice(('Description', 'Description:', 'h3. Description'))}\n{body}")
    return text, tags


def _render_postmortem(r, c, S, view):
    T, date, tz = c["T"], c["date"], c["tz"]
    dur, ack = r.randint(15, 190), r.randint(2, 8)
    end = _at(c, dur)
    style = r.choice(("md", "bold", "plain"))

    def head(name):
        return {"md": f"## {name}", "bold": f"**{name}**", "plain": f"{name}:"}[style]

    lead = _tense(S["lead"], True)
    intro = r.choice((f"On {date} at {T}, ", f"At {T} on {date}, ") if S["when"] == "at" else
                     (f"On {date}, between {c['t0']} and {end} {tz}, ", f"On {date} at {T}, ", f"Starting {T} on {date}, "))
    # the facts the summary may rely on go either into the summary paragraph or into a kept Impact section
    core = ([_cap_text(_tense(S["impact"], True)) + "."] if S["impact"] else []) + [_tense(f, True) for f in S["facts"]]
    in_summary = r.random() < 0.5
    summary = [intro + lead + "."] + (core if in_summary else [])
    dist = [_tense(S["dist"], True)] if S["dist"] else []
    tickets = ([] if S["internal"] or c["sev"] not in ("SEV1", "SEV2") else
               [r.choice((f"Support received {r.randint(12, 400)} tickets.",
                          f"{r.randint(5, 90)} enterprise customers contacted their account managers.",
                          "Several customers posted about it on social media.", ""))])
    colour = tickets + ([r.choice((f"The incident lasted {dur} minutes.", f"Total duration: {dur} minutes.", ""))]
              + _some(r, [x for x in S["extra"] if x != S["root"]], 0.7))
    impact = ([] if in_summary else core) + colour + dist
    keep_impact = not in_summary or r.random() < 0.6
    if not keep_impact:
        summary += dist
    cause = (_tense(S["cause"]["text"], True) if S["cause"] else S["root"] or
             r.choice(("The root cause is still under investigation.", "We have not confirmed a root cause yet; see the follow-ups.")))
    who = _cap(r.choice(PEOPLE))
    inc = f"#inc-{date[5:].replace('-', '')}-{'-'.join(_slug(S['svc'][0]).split('-')[:2])}"
    first = (f"{S['alert']['name']} fired" if S["alert"] and "name" in S["alert"] else
             r.choice(("First report came in", "The problem was first noticed", "Monitoring flagged the anomaly")))
    tl = []
    if S["cause"]:
        tl.append((c["tc"], S["cause"]["event"]))
    tl += [(c["t0"], first + "."), (_at(c, ack), f"{who} acknowledged and opened {inc}."),
           (_at(c, r.randint(9, max(10, dur // 2))),
            f"Identified {S['cause']['short']} as the trigger." if S["cause"] else
            f"Found the cause: {S['root'][0].lower() + S['root'][1:]}" if S["root"] and S["root"].startswith("The ") else
            f"Narrowed the problem down to {S['svc'][0]}."),
           (end, f"{_cap(r.choice(PEOPLE))} {S['cause']['fix'] if S['cause'] else S['fix']}.")]
    tfmt = r.choice(("- {t} — {x}", "{t} {x}", "* {t}: {x}", "| {t} | {x} |"))
    timeline = "\n".join(tfmt.format(t=t, x=x) for t, x in tl)
    sections = [(head(r.choice(("Summary", "What happened", "Overview"))), " ".join(summary))]
    if keep_impact:
        names = ("Details", "Additional context", "Impact") if in_summary else ("Impact", "Customer impact", "Impact")
        sections.append((head(r.choice(names)), " ".join(x for x in impact if x)))
    # the root cause is always kept so the cause, when there is one, is in the text
    sections.append((head(r.choice(("Root cause", "Why it happened", "Cause"))), cause))
    if r.random() < 0.7:
        sections.append((head(f"Timeline ({tz})"), timeline))
    if r.random() < 0.45:
        detect = (f"{S['alert']['name']} paged the on-call, who acknowledged within {ack} minutes." if S["alert"] and "name" in S["alert"]
                  else "An automated security finding paged the on-call." if S["alert"]
                  else f"A report in #help-{r.choice(('oncall', 'infra', 'support'))} reached the on-call; no alert fired.")
        sections.append((head(r.choice(("Detection", "How we found out"))), detect))
    # lessons that fit: no "the alert's runbook" without an alert, no support macro when customers saw nothing
    well = [x for x in WENT_WELL if not (S["internal"] and "Support" in x) and not (not S["alert"] and "alert" in x)]
    wrong = [x for x in WENT_WRONG if not (S["internal"] and "status page" in x) and not (not S["alert"] and "alert" in x)]
    if r.random() < 0.4:
        sections.append((head("What went well"), " ".join(r.sample(well, r.randint(1, 2)))))
    if r.random() < 0.4:
        sections.append((head(r.choice(("What went wrong", "What did not go well", "Where we struggled"))),
                         " ".join(r.sample(wrong, r.randint(1, 2)))))
    if r.random() < 0.3:
        items = list(S["followups"]) + (list(S["cause"]["followups"]) if S["cause"] else [])
        sections.append((head("Action items"), "\n".join(
            f"- [ ] {x} ({r.choice(('OPS', 'SRE', 'PLAT'))}-{r.randint(100, 9999)}, @{r.choice(PEOPLE)})" for x in items[:3])))
    sections = [s for s in sections if s[1]]
    title = r.choice((f"# Postmortem: {S['title']} ({date})", f"Incident review — {S['title']}", f"Post-incident report: {S['title']}", ""))
    text = (title + "\n\n" if title else "") + "\n\n".join(f"{h}\n{b}" for h, b in sections)
    return text.strip(), []


WENT_WELL = ("Mitigation took under five minutes once started.", "Roles in the incident channel were clear from the start.",
             "The runbook for this alert was accurate.", "Support had a customer macro ready within 20 minutes.",
             "The on-call escalated early instead of debugging alone.", "Dashboards pointed at the right component quickly.")
WENT_WRONG = ("The alert went to a low-urgency channel first.", "It took a while to find who owns the component.",
              "There was no dashboard for this path.", "The change was not announced in #deploys.",
              "Two people investigated the same lead for 15 minutes.", "The status page was updated late.",
              "The runbook linked from the alert was out of date.")


STATUS_LABELS = {"outage": ("Major Outage", "Partial Outage"), "degradation": ("Degraded Performance", "Partial Outage"),
                 "security": ("Degraded Performance", "Under Investigation"), "data_loss": ("Degraded Performance", "Partial Outage")}


def _render_status(r, c, S, view):
    T, tz = c["T"], c["tz"]
    mon = c["mon"]
    if view == "cust":
        cu = S["cust"]
        label = r.choice(STATUS_LABELS[c["cat"]]) if c["sev"] != "SEV4" else "Operational"
        lead = " ".join(cu["status"])
        inv = f"Investigating - {lead} " + r.choice((f"This began at approximately {T}.", f"It started around {T}.", f"First reported at {T}."))
        if S["cdist"]:
            inv += " " + S["cdist"]
        inv += " " + r.choice(("We will provide an update within 30 minutes.", "We are investigating and will post updates here.",
                               "Our engineers are looking into it.", ""))
        ups = [(inv.strip(), _at(c, r.randint(5, 15)))]
        monitoring = False
        if r.random() < 0.5:
            ups.append((r.choice(("Identified - The issue has been identified and a fix is being implemented.",
                                  "Identified - We have identified a recent change as the cause and are reverting it.",
                                  "Update - We are continuing to work on a fix.")), _at(c, r.randint(20, 40))))
            if r.random() < 0.4:
                ups.append(("Monitoring - A fix has been implemented and we are monitoring the results.", _at(c, r.randint(45, 90))))
                monitoring = True
        comps = ", ".join(cu["svc"])
        headline = r.choice((f"{cu['title']}\n{comps}: {label}", f"{cu['title']}\nThis incident affects: {comps}.",
                             f"[{label}] {cu['title']}"))
        text = headline + "\n\n" + "\n\n".join(f"{u}\n{mon}, {t} {tz}" for u, t in reversed(ups))
        return text, (["monitoring"] if monitoring else [])
    # internal status page / IT notice: the engineering register
    label = r.choice({"SEV1": ("Major incident", "Investigating", "Down" if c["cat"] == "outage" else "Identified"),
                      "SEV2": ("Investigating", "Degraded", "Identified"), "SEV3": ("Degraded", "Investigating", "Minor"),
                      "SEV4": ("Informational", "Resolved", "FYI")}[c["sev"]])
    body = " ".join([_lead(r, c, S, False) + "."] + _eng_rest(r, S, False, 0.4))
    head = r.choice((f"Internal status — {S['title']}\nStatus: {label}", f"[status.internal] {S['title']} ({label})",
                     f"IT/Ops notice: {S['title']}\nState: {label}"))
    return f"{head}\nPosted {c['date']} {_at(c, r.randint(3, 20))} {tz} by @{r.choice(PEOPLE)}\n\n{body}", []


def _render_email(r, c, S, view):
    sev = c["sev"]
    tags = []
    if view == "cust":
        org, name = c["org"], _full_name(r)
        pre, mis = _stated(r, sev, ("URGENT: ", "Important: ", "", "Small issue: "), 0.3)
        if mis:
            tags.append("misleading_priority")
        says = _customer_text(r, c, S, org)
        if mis and r.random() < 0.7:
            says.append("This needs immediate attention, we are losing business!!" if SEVERITIES.index(sev) >= 2
                        else "Not urgent, whenever you get a chance.")
        greet = r.choice(("Hi,", "Hello support team,", "Hi there,", "Dear Support,",
                          f"Hi {r.choice([p for p in PEOPLE if p != name.split()[0].lower()]).capitalize()},"))
        sign = r.choice(("Thanks,", "Best regards,", "Cheers,", "Regards,", "Thank you,"))
        role = r.choice(("Head of Operations", "CTO", "IT Manager", "Office Manager", "Engineering Lead", "Founder"))
        paras = [" ".join(says[: max(1, len(says) // 2)]), " ".join(says[max(1, len(says) // 2):])]
        body = "\n\n".join(p for p in paras if p)
        text = (f"Subject: {pre}{S['cust']['title']}\nFrom: {name} <{name.split()[0].lower()}@{_slug(org)}.com>\n"
                f"To: support@{c['domain']}\n\n{greet}\n\n{body}\n\n{sign}\n{name}\n{role}, {org}")
        return text, tags
    lst = r.choice(("sre", "eng-incidents", "oncall", "platform", "ops", "engineering"))
    who = r.choice(PEOPLE)
    pre, mis = _stated(r, sev, ("[URGENT] ", "[Action needed] ", "", "FYI: "), 0.25)
    tags += ["misleading_priority"] if mis else []
    rest = _eng_rest(r, S, False, 0.5)
    if r.random() < 0.35:  # the structured update some teams use
        known = [_lead(r, c, S, False) + "."] + rest
        unknown = r.sample(("whether any other service is affected", "the root cause", "how many customers noticed",
                            "whether a rollback is safe", "whether it will recur"), 2)
        paras = ["What we know:\n" + "\n".join(f"- {x}" for x in known),
                 "What we don't know yet:\n" + "\n".join(f"- {x}" for x in unknown),
                 f"Next update by {_at(c, r.choice((30, 45, 60, 90)))} {c['tz']}."]
    else:
        paras = [" ".join([_lead(r, c, S, False) + "."] + rest[: len(rest) // 2]), " ".join(rest[len(rest) // 2:])]
    close = r.choice(("I'll keep this thread updated.", f"Tracking in #inc-{_slug(S['svc'][0])[:16]}.", "Shout if you know more.", "")
                     + (("No action needed from most of you.", "Just FYI.") if sev in ("SEV3", "SEV4") else ()))
    text = (f"Subject: {pre}{S['title']}\nFrom: {who}@{c['domain']}\nTo: {lst}@{c['domain']}\n\n"
            f"{r.choice(('Hi all,', 'Team,', 'Hi,', 'Hey folks,'))}\n\n" + "\n\n".join(p for p in paras if p) +
            (f"\n\n{close}" if close else "") + f"\n\n{who.capitalize()}")
    return text, tags


RENDERERS = {"alert": _render_alert, "chat": _render_chat, "ticket": _render_ticket, "postmortem": _render_postmortem,
             "status_page": _render_status, "email": _render_email}


# --------------------------------------------------------------------------------------------------
# Gold triage.

def _summary(r, c, S, view, past, style):
    since = _since(r, c, S, past)
    if view == "cust":
        s = S["cust"].get("status_sum") if style == "status_page" else None
        s, when = s or S["cust"]["sum"], f", starting around {c['T']}" if c["T"] else ""
        opts = [f"{s}{when}."]
        if style in ("ticket", "email") and S["cust"].get("org_sum"):
            opts = [S["cust"]["org_sum"].format(org=c["org"]) + "."]
        elif style in ("ticket", "email"):
            opts += [f"{c['org']} reports that {s}{when}.", f"Customer {c['org']} reports that {s}{when}."]
        return _fit(r, opts, 300)
    lead = _tense(S["lead"], past)
    imp = _tense(S["impact"], past) if S["impact"] else None
    # the time either leads ("Since 14:05 UTC, ...") or trails ("... since 14:05 UTC")
    # (a trailing time only where the lead has no clock time of its own: "reverted 6 minutes later at 03:04" misleads)
    tail = ("" if not since or re.search(r"\d\d:\d\d", lead) else
            f" {'at' if S['when'] == 'at' else 'starting at' if past else 'since'} {c['T']}")
    opts = [f"{since}{lead}.", f"{lead}{tail}."]
    if imp:  # no joiner that the impact clause itself already uses
        opts += [f"{since}{lead}{j}{imp}." for j in ("; ", ", and ", ": ") if j.strip(" ,and") not in imp or j == ", and "]
        opts += [f"{lead}{tail}; {imp}."] if ";" not in imp else []
        # impact first reads well only when the impact is the news ("No one can sign in: ...")
        opts += [f"{_cap_text(imp)}: {lead}{tail}."] if ":" not in imp and ":" not in lead and c["sev"] in ("SEV1", "SEV2") else []
    cz = S["cause"]
    if cz:
        rel = cz.get("rel", "after")
        opts += [f"{since}{lead} {rel} {cz['short']}."]
        if imp:
            opts += [f"{since}{lead} {rel} {cz['short']}; {imp}."]
    # prefer the richer phrasings, fall back to shorter ones when over the limit
    return _fit(r, opts[2:] if len(opts) > 2 and r.random() < 0.8 else opts, 300, fallback=opts)


def _fit(r, opts, limit, fallback=None):
    """One of the phrasings that fits the limit, first letter capitalised unless it starts a name like checkout-api."""
    ok = [o for o in opts if len(o) <= limit] or [o for o in (fallback or opts) if len(o) <= limit]
    return _cap_text(r.choice(ok) if ok else min(fallback or opts, key=len)[:limit])


CUST_ACTIONS = {  # the responder's step after a customer's ticket or email: (category, SEV1-2 or SEV3)
    ("outage", True): ("Page the on-call owner of {x}, check deploys and config changes since {t} and roll back the likely one.",
                       "Open an incident for {x}, confirm the failure on internal dashboards and fail over or roll back."),
    ("outage", False): ("Reproduce the {x} failure, give the customer the workaround and file it with the owning team.",
                        "Check the {x} logs for the failing requests and reply with a workaround and an ETA."),
    ("degradation", True): ("Check {x} error-rate and latency dashboards to size the impact, then roll back any change since {t} that lines up.",
                            "Open an incident for {x}, find what changed since {t} and add capacity while it is found."),
    ("degradation", False): ("Reproduce the {x} problem and file it for the owning team with the customer's details.",
                             "Check {x} dashboards for the affected users and reply with a workaround."),
    ("security", True): ("Engage the security on-call to verify the {x} report, preserve logs and contain access.",
                         "Escalate the {x} report to security now and lock down the exposed path before replying."),
    ("security", False): ("Forward the {x} report to the security team and confirm what, if anything, was exposed.",),
    ("data_loss", True): ("Stop whatever is still changing {x} data, size the affected records and find the latest good backup.",
                          "Escalate {x} to the data on-call, confirm the scope and prepare a restore from the last good snapshot."),
    ("data_loss", False): ("Check whether the customer's {x} can be restored from backup and tell them what was lost.",
                           "Confirm which {x} records are gone and file a restore request with the owning team."),
}
CUST_ACTIONS_SEV4 = ("Reply to the customer and file a normal-priority ticket for {x}; no incident needed.",
                     "Answer the customer and queue the {x} item for the owning team's backlog.")
STATUS_ACTIONS = {  # the responder's step while the company's own status page shows the incident
    "outage": ("Find and roll back the change behind the {x} failure, then post the next status update.",
               "Keep the bridge on {x} until the fix is confirmed and post an update within 30 minutes."),
    "degradation": ("Find and roll back the change behind the {x} slowdown, then post the next status update.",
                    "Add capacity for {x} while the cause is found and keep the status page updated."),
    "security": ("Contain the {x} exposure, preserve logs and prepare the customer notice with legal.",),
    "data_loss": ("Stop further damage to {x} data and start restoring from the last good backup.",),
}


def _next_action(r, c, S, view, done):
    if view == "cust":
        x, t = S["cust"]["svc"][0], c["t0"]
        if done:
            opts = [f"Watch {x} metrics for another 30 minutes before resolving, then start the postmortem.",
                    f"Confirm {x} stays healthy and schedule the postmortem."]
        elif c["style"] == "status_page" and S["cust"].get("status_actions"):
            opts = list(S["cust"]["status_actions"])
        elif S["cust"].get("actions") and c["style"] != "status_page":
            opts = list(S["cust"]["actions"])
        elif c["style"] == "status_page":
            opts = list(STATUS_ACTIONS[c["cat"]])
        else:
            opts = list(CUST_ACTIONS_SEV4 if c["sev"] == "SEV4" else CUST_ACTIONS[(c["cat"], c["sev"] in ("SEV1", "SEV2"))])
        if not c["T"]:  # no time in the report, so none in the action
            opts = ([o for o in opts if "{t}" not in o]
                    or ["Confirm the {x} problem on internal dashboards and open an incident with the owning team."])
        return _fit(r, [o.format(x=x, t=t) for o in opts], 200)
    cz = S["cause"]
    if done:
        opts = list(S["followups"]) + (list(cz["followups"]) if cz else [])
    else:
        opts = list(cz["actions"]) if cz and r.random() < 0.6 else list(S["actions"])
    return _fit(r, opts, 200)


def _affected(report, names):
    """The names as the report spells them (case may differ in chat), in order, without duplicates."""
    out, low = [], report.lower()
    for n in names:
        if n in report:
            found = n
        elif n.lower() in low:
            i = low.index(n.lower())
            found = report[i:i + len(n)]
        else:
            continue
        if found.lower() not in [o.lower() for o in out]:
            out.append(found)
    return out[:5]


# --------------------------------------------------------------------------------------------------
# Generation.

def _context(r, sev, cat, style):
    m0 = r.randrange(24 * 60)
    tz = r.choice(("UTC",) * 7 + ("CET", "ET", "PT", "IST"))
    t0 = _hm(m0)
    if style == "chat":
        T = r.choice((t0, t0, f"{t0} {tz}", None))
    elif style in ("ticket", "email"):
        T = r.choice((f"{t0} {tz}",) * 3 + (None,))
    else:
        T = f"{t0} {tz}"
    year, mo, d = r.choice((2023, 2024, 2025)), r.randint(1, 12), r.randint(1, 28)
    return dict(sev=sev, cat=cat, style=style, m0=m0, t0=t0, tz=tz, T=T, tc=_hm(m0 - r.randint(2, 25)),
                date=f"{year}-{mo:02d}-{d:02d}", mon=f"{MONTHS[mo - 1]} {d}", region=r.choice(REGIONS),
                domain=r.choice(DOMAINS), org=r.choice(ORGS))


def _scenario(r, c):
    """A scenario of the cell that the style can show (alerts need a monitor, status pages a post)."""
    fns = SCENARIOS[(c["sev"], c["cat"])]
    for f in r.sample(fns, len(fns)):
        S = f(r, c)
        S.setdefault("distractors", [])
        S.setdefault("internal", False)
        S.setdefault("log", None)
        S.setdefault("root", None)
        S["cust"] = S.get("cust") or None
        alt = _ALT.search(S["lead"])
        S.setdefault("when", "at" if alt is None or alt.group(1) == alt.group(2) else "since")
        S["status"] = None if f.__name__ in NO_STATUS else ("public" if S["cust"] else "internal")
        if (c["style"] == "alert" and not S["alert"] or c["style"] == "status_page" and not S["status"]
                or c["style"] == "postmortem" and f.__name__ in NO_POSTMORTEM):
            continue
        return S
    raise RuntimeError(f"no scenario of {c['sev']}/{c['cat']} fits style {c['style']}")


def _row(r, sev, cat, style):
    c = _context(r, sev, cat, style)
    S = _scenario(r, c)
    if style == "status_page":
        view = "cust" if S["status"] == "public" else "eng"
    elif style in ("ticket", "email"):
        view = "cust" if S["cust"] and r.random() < 0.6 else "eng"
    else:
        view = "eng"
    # the terse report: the symptom and its reach only (the summary and next action then use nothing else)
    S["dist"] = S["cdist"] = None
    if view == "eng" and r.random() < {"chat": 0.4, "alert": 0.3, "email": 0.2, "ticket": 0.2, "status_page": 0.2}.get(style, 0):
        S["cause"], S["extra"], S["log"] = None, [], None
    # a distractor sentence in the register of the view, more often where the scenario has none of its own
    names = []
    if not S.get("no_dist") and r.random() < (0.55 if not S["distractors"] else 0.15):
        names = _pick_distractors(r, S, "cust" if view == "cust" else "eng")
        if view == "cust" and S["cust"].get("question"):
            names = []
        elif view == "cust":
            S["cdist"] = _distractor_sentence(r, names, "status" if style == "status_page" else "says")
        else:
            S["dist"] = _distractor_sentence(r, names, "eng")
    S["dist_names"] = names
    report, extra_tags = RENDERERS[style](r, c, S, view)
    done = style == "postmortem" or "monitoring" in extra_tags
    past = style == "postmortem"
    names = [n for n in names if n in report] + [n for n in S["distractors"] if n in report]
    svc = S["cust"]["svc"] if view == "cust" else S["svc"] + ([S["cause"]["comp"]] if S["cause"] and S["cause"]["comp"] else [])
    affected = _affected(report, svc)
    triage = {"severity": sev, "category": cat, "affected_services": affected,
              "summary": _summary(r, c, S, view, past, style), "next_action": _next_action(r, c, S, view, done)}
    errors = validate(triage)
    if errors:  # a generator bug: fail loudly rather than write a row that breaks the spec
        raise RuntimeError(f"{sev}/{cat}/{style}: {errors} in {triage} for {report!r}")
    tags = [t for t in S["tags"] if t != "distractor"] + [t for t in extra_tags if t != "monitoring"]
    if S["cause"] and S["cause"].get("tag") and sev in ("SEV1", "SEV2"):
        tags.append(S["cause"]["tag"])
    if names:
        tags.append("distractor")
    return {"style": style, "severity": sev, "category": cat, "report": report, "triage": triage,
            "hard_cases": sorted(set(tags)), "distractors": names}


def generate(n_rows: int, seed: int) -> list[dict]:
    """n_rows rows, each {"id", "style", "severity", "category", "report", "triage", "hard_cases", "distractors"}."""
    r = random.Random(seed)
    cells = [(s, k) for s in SEVERITIES for k in CATEGORIES]
    styles = list(STYLES)
    rows = []
    for i in range(n_rows):
        # pass k over the 16 cells uses style k of a shuffled order, so every 16 x len(STYLES) rows hold
        # each (cell, style) pair exactly once
        cycle = i // len(cells)
        if i % len(cells) == 0 and cycle % len(styles) == 0:
            r.shuffle(styles)
        sev, cat = cells[i % len(cells)]
        rows.append(_row(r, sev, cat, styles[cycle % len(styles)]))
    r.shuffle(rows)
    return [{"id": f"tpl-{seed}-{i:05d}", **row} for i, row in enumerate(rows)]
