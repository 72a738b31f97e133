"""What happened, and how much it matters: the facts of one incident for a (severity, category) cell.

Category and severity come from two different parts of a report, as the spec's rubric says:
- the failure mode decides the category: requests fail outright (outage), work but worse (degradation),
  something is exposed or an actor got in (security), data is lost or wrong (data_loss);
- the stated impact decides the severity: how many users, how core the feature, for how long, money or
  customer data at stake, a workaround, or no customer impact at all.

Every failure mode below takes the severity and states the impact for it; the subject (a service, app,
internal tool or open-source project) is drawn from the pools of ftlab/data/synth/vocab.py whatever the
severity (a checkout service is down for everyone, slow for one region, wrong on one browser, or broken
in staging), so that no service name or scenario word gives the label away: only the impact does.

A failure mode returns the facts of one incident as a dict (templates use [[present|past]]):
  services  affected names, as the report writes them (the gold affected_services)
  title     a headline;  lead  the symptom, subject first;  impact  the stated impact (decides severity)
  details   more sentences a longer report may carry;  cause  what changed (or None)
  cust      the same incident in a customer's or user's own words;  public  status-page voice
  summary   the gold summary (one sentence from the facts above; cause_short is added when the report
            gives the cause);  action  the gold next action
  alert     (metric, value, threshold) for a monitoring alert, or None
  tags      hard-case families it exercises;  oss  True when the subject is an open-source project
"""
from ftlab.data.synth.vocab import (BROWSERS, DATASTORES, FLAGS, PII, PLATFORMS, PROJECTS, PROXIES, REGION_NAMES, REGIONS,
                               SECRETS, SUBJECTS, cap, duration, num, pct, version)

TIERS = {  # which subjects can carry each severity: the impact is then stated to match
    "SEV1": ("core",), "SEV2": ("core", "feature"), "SEV3": ("core", "feature", "internal"),
    "SEV4": ("core", "feature", "internal"),
}


def subject(r, sev, kinds=None, tiers=None):
    """(name, public, does, tier, kind, holds) of a subject that fits the severity (and kinds)."""
    pool = [s for s in SUBJECTS if s[3] in (tiers or TIERS[sev]) and (kinds is None or s[4] in kinds)]
    return r.choice(pool)


def definite(phrase: str) -> str:
    """'an S3 bucket of x' -> 'the S3 bucket of x'."""
    for article in ("an ", "a "):
        if phrase.startswith(article):
            return "the " + phrase[len(article):]
    return phrase


def project(r):
    name, what, does, holds = r.choice(PROJECTS)
    return name, what, does, holds, version(r)


# ---- stated impact, shared by the failure modes ---------------------------------------------------------

def broad(r, does, public):
    """SEV1 scope: (the report's sentence, the summary's clause)."""
    n = num(r, 8, 400) + ",000"
    return r.choice((
        (f"nobody [[can|could]] {does}", f"nobody can {does}"),
        (f"no customer [[is|was]] able to {does}", f"no customer can {does}"),
        (f"{public} [[is|was]] unusable for every customer", f"{public} is unusable for every customer"),
        ("all users in every region [[are|were]] affected", "all users are affected"),
        (f"customers everywhere [[are|were]] unable to {does}", f"customers everywhere cannot {does}"),
        (f"about {n} active customers, i.e. all of them, [[cannot|could not]] {does}", "every customer is affected"),
        ("it [[is|was]] down for everyone, not just us: confirmed from three networks", "it is down for everyone"),
        (f"the whole of {public} [[is|was]] out, for all users", f"all of {public} is out for all users"),
        ("every single request [[fails|failed]], in every region", "every request fails"),
        (f"this [[is|was]] a full production outage: nothing [[works|worked]] and we [[are|were]] losing orders",
         "a full production outage"),
        (f"all {n} users [[are|were]] locked out of {public}", "all users are locked out"),
        ("it [[is|was]] completely broken for all of our customers", "it is broken for all customers"),
    ))


def most(r, does, public):
    p = pct(r, 70, 97)
    return r.choice(((f"about {p} of customers [[cannot|could not]] {does}", f"about {p} of customers cannot {does}"),
                     (f"the vast majority of users [[cannot|could not]] {does}", f"most users cannot {does}"),
                     (f"{p} of attempts to {does} [[fail|failed]]", f"{p} of attempts to {does} fail"),
                     (f"almost everyone [[is|was]] affected; only a few cached sessions still [[work|worked]]",
                      "almost everyone is affected")))


def subset(r, does, public):
    """SEV2 scope: a significant subset, one region, one platform, or an important customer group."""
    region = r.choice(REGIONS)
    return r.choice((
        (f"about {pct(r, 15, 45)} of customers [[are|were]] affected", "a large share of customers is affected"),
        (f"customers in {REGION_NAMES[region]} ({region}) [[cannot|could not]] {does}",
         f"customers in {REGION_NAMES[region]} cannot {does}"),
        ("roughly a third of our users [[are|were]] hit", "about a third of users are hit"),
        (f"{num(r, 2, 9)},{r.randint(100, 999)} customers [[have|had]] been affected so far", "thousands of customers are affected"),
        ("every customer on SSO (most of our enterprise accounts) [[is|was]] affected", "enterprise SSO customers are affected"),
        (f"it [[affects|affected]] all Android users on the latest release, about {pct(r, 25, 40)} of our traffic",
         "Android users on the latest release are affected"),
        (f"our three largest customers [[have|had]] escalated, and support [[has|had]] {r.randint(40, 160)} tickets",
         "large customers have escalated and support has many tickets"),
        ("a subset of customers [[is|was]] affected, a significant one: several hundred accounts", "several hundred accounts are affected"),
        (f"many users [[are|were]] hitting it; the support queue [[has|had]] doubled", "many users are affected"),
        (f"it [[is|was]] a partial outage: roughly half of the requests from {REGION_NAMES[region]} [[fail|failed]]",
         f"a partial outage for {REGION_NAMES[region]}"),
        (f"for {duration(r, 30, 150)}, a large part of our user base [[is|was]] affected", "a large part of the user base is affected"),
    ))


def few(r, does, public):
    """SEV3 scope: a handful of users, one small tenant, one rare setup."""
    return r.choice((
        (f"{r.randint(2, 25)} users [[have|had]] reported it", "a handful of users have reported it"),
        ("only a handful of accounts [[are|were]] affected", "only a few accounts are affected"),
        ("it [[is|was]] limited to one small tenant", "one small tenant is affected"),
        (f"only users on {r.choice(BROWSERS)} [[see|saw]] it", "only users of one browser are affected"),
        (f"it [[hits|hit]] about {pct(r, 0.1, 1.5)} of requests", "a small share of requests is affected"),
        (f"{r.randint(3, 40)} customers out of about {num(r, 20, 90)},000 [[are|were]] affected",
         "a small number of customers is affected"),
        ("a small subset of users [[is|was]] affected, the rest never [[notice|noticed]]", "a small subset of users is affected"),
        ("one customer [[has|had]] reported it and we [[can|could]] not reproduce it elsewhere", "one customer has reported it"),
        ("it only [[happens|happened]] occasionally, maybe once in a few hundred tries", "it happens only occasionally"),
        ("it [[is|was]] an edge case: only accounts created before 2019 [[hit|hit]] it", "only some old accounts hit it"),
    ))


WORKAROUNDS = ("a retry [[usually works|usually worked]]", "reloading the page [[gets|got]] people through",
               "they [[can|could]] use the web app instead", "support [[can|could]] do it by hand meanwhile",
               "the older endpoint still [[works|worked]]", "customers [[can|could]] use the CSV download instead",
               "there [[is|was]] a simple workaround (log out and back in)", "switching browsers [[works|worked]] around it",
               "the mobile app still [[works|worked]] for them")
NO_WORKAROUND = ("There [[is|was]] no workaround.", "No workaround [[is|was]] known.", "Retrying [[does|did]] not help.",
                 "Nothing we [[try|tried]] [[helps|helped]].")
NO_IMPACT = ("No customer impact.", "No customers [[are|were]] affected.", "Nothing customer-facing [[is|was]] affected.",
             "Customers [[see|saw]] nothing.", "No user impact so far.", "Zero customer impact.", "Harmless, as far as we can tell.",
             "No users noticed.", "Impact: none.", "This [[has|had]] no effect on users.")


def sev_scope(r, sev, does, public):
    return {"SEV1": lambda: (most if r.random() < 0.25 else broad)(r, does, public), "SEV2": lambda: subset(r, does, public),
            "SEV3": lambda: few(r, does, public)}[sev]()


def counted(sentence: str) -> list[str]:
    """The `threshold` hard case: the severity hinges on a stated share or count."""
    return ["threshold"] if any(ch.isdigit() for ch in sentence) else []


def cause(r, svc, t):
    """What changed before it broke: (sentence, short form, the action that undoes it)."""
    kind = r.choice(("deploy", "deploy", "config", "flag", "cert", "migration", "capacity", "dependency", None, None))
    if kind == "deploy":
        v = "v" + version(r)
        return (f"{svc} {v} was deployed at {t}.", f"the {t} deploy of {v}", f"Roll back {svc} {v} to the previous release.")
    if kind == "config":
        proxy = r.choice(PROXIES)
        return (f"A config change to the {proxy} went out at {t}.", f"a {proxy} config change at {t}",
                f"Revert the {t} {proxy} config change.")
    if kind == "flag":
        flag = r.choice(FLAGS)
        return (f"The `{flag}` flag was turned on for everyone at {t}.", f"the `{flag}` flag change",
                f"Turn the `{flag}` flag off again.")
    if kind == "cert":
        return (f"A TLS certificate used by {svc} expired at {t}.", "an expired TLS certificate",
                f"Renew the expired TLS certificate for {svc} and reload it.")
    if kind == "migration":
        db = r.choice(DATASTORES)
        return (f"A schema migration on {db} ran at {t}.", f"the {t} migration on {db}",
                f"Stop the {t} migration on {db} and roll it back.")
    if kind == "capacity":
        return (f"Traffic [[is|was]] {r.choice(('3x', '4x', '2.5x'))} normal since a marketing email at {t}.",
                "a traffic spike", f"Scale {svc} out and shed non-essential traffic.")
    if kind == "dependency":
        return (f"An upstream provider {r.choice(('is', 'was'))} having problems since {t}.", "an upstream provider problem",
                f"Fail {svc} over to the secondary provider.")
    return None


# ---- outage: requests fail outright, nothing works ------------------------------------------------------

def outage_down(r, sev, c):
    kinds = ("api", "web", "job", "tool") if sev != "SEV1" else ("api", "web")
    name, public, does, tier, kind, _ = subject(r, sev, kinds, ("internal",) if sev == "SEV3" and r.random() < 0.4 else None)
    code = r.choice(("500", "502", "503", "504"))
    lead = r.choice((f"{name} [[is returning|returned]] HTTP {code} on every request",
                     f"every request to {name} [[fails|failed]] with {code}",
                     f"{name} [[is|was]] down: health checks [[fail|failed]] and the load balancer [[has|had]] no healthy targets",
                     f"{name} [[times|timed]] out on every call",
                     f"{name} [[is|was]] completely unreachable"))
    tags, cust_scope = [], None
    if sev == "SEV4":
        frame = r.choice((
            (f"It [[is|was]] the staging copy of {name}; production [[is|was]] fine.", "staging"),
            (f"Only the canary pod [[fails|failed]]; the rollout [[stops|stopped]] automatically before any customer traffic reached it.", "canary"),
            (f"One of {r.randint(4, 9)} replicas [[is|was]] down and traffic [[moves|moved]] to the others with no errors.", "redundant"),
            (f"It [[is|was]] the old v1 endpoint of {name}, which [[has|had]] had zero traffic for months.", "legacy"),
        ))
        impact, clause = frame[0] + " " + r.choice(NO_IMPACT), {"staging": "in staging only, with no customer impact",
                                                                "canary": "on the canary only, caught before customers were affected",
                                                                "redundant": "on one replica only, with no customer impact",
                                                                "legacy": "on an endpoint with no traffic, so no customer impact"}[frame[1]]
        tags.append("cause_vs_impact")
        action = {"staging": f"Fix the staging deployment of {name} before the next release.",
                  "canary": f"Find out why the canary of {name} failed before resuming the rollout.",
                  "redundant": f"Replace the failed {name} replica and check why it died.",
                  "legacy": f"Decommission the unused v1 endpoint of {name}."}[frame[1]]
    else:
        if tier == "internal":
            scope, clause = (f"staff [[cannot|could not]] {does}", f"staff cannot {does}")
            work = r.choice(("there [[is|was]] a manual fallback", "the CLI still [[works|worked]]", "it [[can|could]] wait until tomorrow"))
            impact = f"{cap(scope)}, but customers [[are|were]] not affected and {work}."
        elif sev == "SEV3":
            scope, clause = few(r, does, public)
            impact = f"{cap(scope)}; {r.choice(WORKAROUNDS)}."
        else:
            scope, clause = sev_scope(r, sev, does, public)
            impact = f"{cap(scope)}." + (" " + r.choice(NO_WORKAROUND) if sev == "SEV1" and r.random() < 0.5 else "")
        tags += counted(scope)
        cust_scope = clause
        action = f"Page the owners of {name} and restore it; check the most recent change first."
    ch = cause(r, name, c["t0"])
    if ch and sev != "SEV4":
        action = ch[2]
    summary = f"{cap(lead)}{', ' + clause if clause else ''}"
    details = [f"Error rate on {name} [[is|was]] 100%."] if sev != "SEV4" else []
    if sev in ("SEV1", "SEV2") and r.random() < 0.5:  # slow too, but failing outright is what counts: outage
        details = [f"The few requests that still [[get|got]] through [[take|took]] {r.randint(8, 30)}s."]
        tags.append("precedence")
    return dict(
        services=[name], title=r.choice((f"{name} down", f"{name} returning {code}s", f"{cap(public)} unavailable")),
        lead=lead, impact=impact, details=details,
        cause=ch[0] if ch else None, cause_short=ch[1] if ch else None,
        cust=(f"{cap(public)} is not working at all for us, every attempt to {does} ends in an error ({code})."
              if sev in ("SEV1", "SEV2") else f"I can't {does} right now, I keep getting error {code}."),
        public=f"{cap(public)} [[is|was]] unavailable" + ("" if sev == "SEV1" else " for some customers") + ".",
        summary=summary, action=action, alert=("HighErrorRate", "100%", "5%"), tags=tags,
        no_public=sev == "SEV4" or tier == "internal")


def outage_crash(r, sev, c):
    oss = r.random() < 0.5
    if oss:
        name, what, does, _, ver = project(r)
        public, label = name, f"{name} {ver}"
    else:
        name, public, does, tier, kind, _ = subject(r, "SEV1", ("app",))
        ver = version(r)
        label = f"{name} {ver}"
    when = r.choice(("on launch", "right after the splash screen", "when opening any file", "as soon as you sign in"))
    lead = f"{label} [[crashes|crashed]] {when}"
    tags = []
    if sev == "SEV1":
        impact = r.choice((f"It [[happens|happened]] on every device we [[try|tried]]; nobody on {ver} [[can|could]] {does}.",
                           f"Every user who [[updates|updated]] to {ver} [[is|was]] locked out: the app [[is|was]] unusable.",
                           f"All platforms, 100% reproducible, {r.choice(NO_WORKAROUND).lower()}"))
        clause = f"so no user on {ver} can {does}"
    elif sev == "SEV2":
        plat = r.choice(PLATFORMS)
        impact = r.choice((f"It [[happens|happened]] on every {plat} machine, about {pct(r, 20, 45)} of our users; other platforms [[are|were]] fine.",
                           f"Everyone on {plat} [[is|was]] affected; downgrading [[is|was]] the only way out."))
        clause = f"for every user on {plat}"
    elif sev == "SEV3":
        odd = r.choice(("a non-English locale", "more than 10,000 files", "a network drive", "a custom theme",
                        "an old GPU driver", "a right-to-left language"))
        impact = f"It only [[happens|happened]] with {odd}; everyone else [[is|was]] fine, and {r.choice(('turning that off', 'a restart', 'the previous version'))} [[works|worked]] around it."
        clause = f"only with {odd}"
    else:
        impact = r.choice((f"It [[is|was]] the nightly build only; {ver} [[has|had]] not been released.",
                           f"CI caught it on the release branch, so no released version [[is|was]] affected."))
        clause, tags = "in an unreleased build only", ["cause_vs_impact"]
    return dict(
        services=[name], title=r.choice((f"Crash {when} ({ver})", f"{name} {ver} crashes {when}", f"Crash {when}")),
        lead=lead, impact=impact, details=[], cause=None,
        cust=f"Since updating to {ver} the app crashes {when}. I already tried reinstalling.",
        public=f"{cap(public)} {ver} [[crashes|crashed]] {when} for some users.",
        summary=f"{cap(lead)}, {clause}",
        action=(f"Pull {ver} from distribution and ship a fix for the crash {when}." if sev in ("SEV1", "SEV2") else
                f"Reproduce the crash {when} and fix it in the next release." if sev == "SEV3" else
                f"Fix the crash {when} before {ver} is released."),
        alert=None, tags=tags, oss=oss, no_public=sev == "SEV4")


def outage_cannot(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, sev, ("api", "web", "app"))
    err = r.choice(('"Something went wrong"', '"Internal Server Error"', "a blank page", "an endless spinner",
                    '"Request failed with status code 500"', '"Service Unavailable"'))
    lead = r.choice((f"trying to {does} [[ends|ended]] in {err} from {name}", f"users [[cannot|could not]] {does}: {name} [[gives|gave]] {err}",
                     f"{name} [[is|was]] broken: {err} every time someone [[tries|tried]] to {does}"))
    tags = []
    if sev == "SEV4":
        impact = r.choice((f"Only our internal test accounts [[are|were]] affected. {r.choice(NO_IMPACT)}",
                           f"It [[is|was]] the pre-production environment; the release [[is|was]] on hold. {r.choice(NO_IMPACT)}"))
        clause, tags = "for internal test accounts only, with no customer impact", ["cause_vs_impact"]
        action = f"Fix {name} in pre-production before the release goes out."
    elif sev == "SEV3":
        scope, clause = few(r, does, public)
        impact = f"{cap(scope)}; {r.choice(WORKAROUNDS)}."
        action = f"Find what the affected accounts have in common and fix {name} for them."
        tags += counted(scope)
    else:
        scope, clause = sev_scope(r, sev, does, public)
        impact = f"{cap(scope)}."
        action = f"Page the {name} on-call, check the latest change to {name} and roll it back."
        tags += counted(scope)
    ch = cause(r, name, c["t0"]) if sev != "SEV4" else None
    if ch:
        action = ch[2]
    return dict(
        services=[name], title=r.choice((f"Cannot {does}", f"{cap(public)} broken", f"Users unable to {does}")),
        lead=lead, impact=impact, details=[], cause=ch[0] if ch else None,
        cust=f"I can't {does}. Every time I try I get {err}.",
        public=f"Some customers [[are|were]] unable to {does}." if sev != "SEV1" else f"Customers [[are|were]] unable to {does}.",
        summary=f"Users cannot {does} ({err.strip(chr(34))}), {clause}" if sev != "SEV4" else f"Trying to {does} fails {clause}",
        action=action, alert=("HighErrorRate", "100%" if sev == "SEV1" else pct(r, 8, 60), "5%"), tags=tags,
        no_public=sev == "SEV4")


# ---- degradation: works, but worse ----------------------------------------------------------------------

def degradation_slow(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, sev, ("api", "web", "tool", "app"))
    tags = []
    normal = r.randint(120, 600)
    if sev == "SEV1":
        slow = r.randint(25, 60)
        impact = r.choice((f"Pages [[take|took]] {slow}s for everyone and most [[time|timed]] out: {public} [[is|was]] effectively unusable.",
                           f"For all users {public} [[is|was]] so slow ({slow}s a request) that nobody [[can|could]] {does}."))
        clause = f"so slow for all users that nobody can {does}"
    elif sev == "SEV2":
        slow = r.randint(5, 20)
        scope, clause0 = subset(r, does, public)
        tags = counted(scope)
        impact = f"{cap(scope)}, waiting {slow}s or more (normally {normal}ms); some give up."
        clause = clause0.replace(" is affected", " sees long delays").replace(" are affected", " see long delays") if "affected" in clause0 else f"{clause0}, with long delays"
    elif sev == "SEV3":
        slow = r.randint(2, 6)
        if tier == "internal":
            impact = f"Only staff [[use|used]] it and it still [[works|worked]], just slowly ({slow}s a page)."
            clause = "an internal tool, slow but working"
        else:
            scope, clause = few(r, does, public)
            impact = f"{cap(scope)}; everything still [[works|worked]], just slower ({slow}s instead of {normal}ms)."
    else:
        slow = r.randint(2, 9)
        impact = r.choice((f"It [[lasts|lasted]] {duration(r, 0, 1)} and [[recovers|recovered]] by itself. {r.choice(NO_IMPACT)}",
                           f"Only the synthetic check from one probe location [[sees|saw]] it; real user latency [[is|was]] normal."))
        clause = "briefly, with no user impact"
    lead = r.choice((f"{name} p99 latency [[is|was]] {slow}s (normally {normal}ms)", f"{name} [[is|was]] very slow",
                     f"requests to {name} [[take|took]] {slow}s or more", f"{public} [[is|was]] crawling"))
    ch = cause(r, name, c["t0"]) if sev in ("SEV1", "SEV2") else None
    return dict(
        services=[name], title=r.choice((f"{name} slow", f"High latency on {name}", f"{cap(public)} very slow")),
        lead=lead, impact=impact, details=[], cause=ch[0] if ch else None,
        cust=f"{cap(public)} has been extremely slow, it takes ages to {does}.",
        public=f"Some customers [[may experience|experienced]] slowness with {public}.",
        summary=f"{cap(lead)}, {clause}", cause_short=ch[1] if ch else None,
        action=(ch[2] if ch else f"Profile {name} and find what makes requests slow." if sev != "SEV4"
                else f"Check the {name} latency blip against the deploy log; no action needed for users."),
        alert=("HighLatencyP99", f"{slow}s", "1s"), tags=tags + (["cause_vs_impact"] if sev == "SEV4" else []),
        no_public=sev == "SEV4" or tier == "internal")


def degradation_errors(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, sev, ("api", "web"))
    if sev == "SEV1":
        rate = pct(r, 55, 85)
        impact = f"{rate} of requests [[fail|failed]], so most customers [[cannot|could not]] {does} even after retrying."
        clause = f"{rate} of requests fail and most customers cannot {does}"
        tags = []
    elif sev == "SEV2":
        rate = pct(r, 10, 40)
        impact = r.choice((f"{rate} of requests [[fail|failed]]; retries [[help|helped]] only sometimes.",
                           f"About {rate} of customers [[see|saw]] errors when they try to {does}."))
        clause, tags = f"with {rate} of requests failing", ["threshold"]
    elif sev == "SEV3":
        rate = pct(r, 0.3, 2.5)
        impact = f"{rate} of requests [[fail|failed]] and a retry [[succeeds|succeeded]]."
        clause, tags = f"with {rate} of requests failing and retries succeeding", ["threshold"]
    else:
        rate = pct(r, 1, 9)
        impact = r.choice((f"The errors [[are|were]] all from our own load test against {name}. {r.choice(NO_IMPACT)}",
                           f"They [[are|were]] 429s to a single internal batch client that [[retries|retried]] on its own. {r.choice(NO_IMPACT)}"))
        clause, tags = "from internal traffic only, with no customer impact", ["cause_vs_impact"]
    lead = r.choice((f"{name} [[is returning|returned]] errors on {rate} of requests", f"{name} error rate [[is|was]] at {rate}",
                     f"intermittent 5xx from {name} ({rate})"))
    ch = cause(r, name, c["t0"]) if sev in ("SEV1", "SEV2") else None
    return dict(
        services=[name], title=r.choice((f"Elevated errors on {name}", f"{name} error rate {rate}", f"Intermittent errors: {public}")),
        lead=lead, impact=impact, details=[], cause=ch[0] if ch else None,
        cust=f"Every few tries I get an error when I try to {does}.",
        public=f"We [[are investigating|investigated]] elevated error rates for {public}.",
        summary=f"{cap(name)} returns errors on {rate} of requests" + (", " + clause.split(", ", 1)[-1] if ", " in clause else "")
        if sev not in ("SEV4",) else f"{cap(name)} errors at {rate} {clause}",
        action=ch[2] if ch else (f"Find the failing {name} requests in the logs and fix their cause." if sev != "SEV4"
                                  else f"Exclude the internal traffic from the {name} error alert."),
        alert=("HighErrorRate", rate, "1%" if sev == "SEV3" else "5%"), tags=tags, no_public=sev == "SEV4")


def degradation_delay(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, "SEV2", ("job",), ("feature",))
    what = r.choice(("emails", "webhooks", "exports", "notifications", "invoices", "payout reports"))
    if sev == "SEV2":
        lag = r.randint(2, 9)
        impact = r.choice((f"Every customer's {what} [[are|were]] {lag} hours late, and {r.randint(30, 200)} support tickets [[are|were]] in.",
                           f"The backlog [[is|was]] {num(r, 200, 900)},000 jobs; customers [[get|got]] their {what} {lag} hours late."))
        clause = f"{what} are {lag} hours late for all customers"
    elif sev == "SEV3":
        lag = r.randint(10, 45)
        impact = f"A few {what} [[arrive|arrived]] about {lag} minutes late; nothing [[is|was]] lost and the queue [[drains|drained]] on its own."
        clause = f"a few {what} are {lag} minutes late"
    else:
        impact = f"Only the internal copy of the {what} [[is|was]] late. {r.choice(NO_IMPACT)}"
        clause = "for internal copies only, with no customer impact"
    lead = r.choice((f"the {name} queue [[is|was]] backing up", f"{name} [[is|was]] processing jobs far behind schedule",
                     f"{what} from {name} [[are|were]] delayed"))
    return dict(
        services=[name], title=r.choice((f"{cap(what)} delayed", f"{name} backlog", f"Delayed {what}")),
        lead=lead, impact=impact, details=[], cause=None,
        cust=f"We have not received our {what} for hours, is something wrong on your side?",
        public=f"{cap(what)} [[are|were]] delayed.",
        summary=f"{cap(lead)}: {clause}",
        action=(f"Scale the {name} workers out to drain the backlog and find what slowed them." if sev == "SEV2" else
                f"Watch the {name} queue drain and check why it backed up."),
        alert=("QueueLagHigh", f"{r.randint(10, 600)}m", "5m"), tags=[], no_public=sev == "SEV4")


def degradation_cosmetic(r, sev, c):
    """SEV4 (and SEV3 when it misleads): wrong-but-harmless behaviour: a typo, a broken link, a wrong label."""
    oss = r.random() < 0.45
    if oss:
        name, what, does, _, ver = project(r)
        page = r.choice(("settings screen", "about dialog", "docs landing page", "README", "preferences window"))
        where = f"the {name} {page}"
    else:
        name, public, does, tier, kind, _ = subject(r, "SEV3", ("api", "web", "app", "tool"))
        page = r.choice(("pricing page", "footer", "login page", "settings page", "order confirmation page", "dashboard"))
        where = f"the {page} of {name}"
    issue = r.choice((f"has a typo: \"Recieve\" instead of \"Receive\"", "shows the wrong icon next to the save button",
                      "has a broken link that goes to a 404 page", "shows the date in US format for European users",
                      "has a button that overlaps the text on small screens", "shows \"undefined\" in a tooltip",
                      "uses last year's copyright notice", "has the dark-mode colours wrong in one panel"))
    if sev == "SEV3":
        impact = "A few users [[have|had]] asked support about it because it [[is|was]] confusing; it [[does|did]] not stop anyone."
        clause = "which confuses a few users but blocks nobody"
    else:
        impact = r.choice(("Purely cosmetic, everything works.", "Nothing is broken functionally.", "No functional impact.",
                           "Cosmetic only."))
        clause = "a cosmetic issue with no functional impact"
    return dict(
        services=[name], title=r.choice((f"Typo on {page}", f"Cosmetic: {page}", f"Small UI bug on the {page}")),
        lead=f"{where} {issue}", impact=impact, details=[], cause=None,
        cust=f"Small thing: {where} {issue}.", public=None,
        summary=f"{cap(where)} {issue}, {clause}",
        action=f"Fix {where} in the next release.", alert=None, tags=[], oss=oss, no_public=True, no_alert=True)


# ---- security: exposure, intrusion, compromise ------------------------------------------------------------

def security_exposure(r, sev, c):
    name, public, does, tier, kind, holds = subject(r, "SEV2", ("api", "web", "job"))
    data = r.choice(PII)
    store = r.choice((f"an S3 bucket of {name}", f"an Elasticsearch index fed by {name}", f"a shared export from {name}",
                      f"a debug endpoint of {name}", f"the API of {name}"))
    lead = r.choice((f"{store} [[is|was]] publicly readable and [[holds|held]] customer {data}",
                     f"customer {data} [[are|were]] exposed through {store}",
                     f"{store} [[returns|returned]] other customers' {data} to anyone who [[asks|asked]]"))
    tags = []
    if sev == "SEV1":
        n = num(r, 20, 900) + ",000"
        impact = r.choice((f"About {n} customers' records [[are|were]] exposed and the access logs [[show|showed]] downloads from unknown IPs.",
                           f"Every customer's {data} ({n} rows) [[are|were]] exposed, for {r.randint(3, 40)} days before anyone noticed."))
        clause = f"affecting about {n} customers"
    elif sev == "SEV2":
        n = r.randint(40, 900)
        impact = f"{n} customers' {data} [[are|were]] exposed; access logs [[show|showed]] one download we cannot explain."
        clause = f"affecting {n} customers"
    elif sev == "SEV3":
        impact = r.choice((f"Only internal employee emails [[are|were]] in it and it [[is|was]] reachable from the VPN only.",
                           f"The fields exposed [[are|were]] order ids and timestamps only, no personal data."))
        clause, tags = "with no customer personal data in it", ["cause_vs_impact"]
        lead = lead.replace(f"customer {data}", "some data")
    else:
        impact = f"It only [[holds|held]] synthetic test data, and it [[is|was]] closed within minutes. {r.choice(NO_IMPACT)}"
        clause, tags = "holding only synthetic test data", ["cause_vs_impact"]
        lead = lead.replace(f"customer {data}", "test data")
    return dict(
        services=[name], title=r.choice(("Data exposure", f"Public access to {name} data", "Exposed customer data")),
        lead=lead, impact=impact, details=[], cause=None,
        cust=f"I was able to see another customer's {data} in {public}. This should not be possible.",
        public=f"We [[are investigating|investigated]] a potential exposure of customer data through {public}.",
        summary=f"{cap(lead)}, {clause}",
        action=(f"Close public access to {definite(store)}, "
                "preserve the access logs and start the breach process." if sev in ("SEV1", "SEV2") else
                "Close the access and review who can change bucket permissions."),
        alert=None, tags=tags, no_public=sev in ("SEV3", "SEV4"), no_alert=True)


def security_secret(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, "SEV3", ("api", "job", "tool"))
    secret = r.choice(SECRETS)
    where = r.choice(("a public GitHub repository", "the CI build logs", "a public gist", "a Slack channel with guests",
                      "a screenshot in a public support thread"))
    lead = f"{secret} used by {name} [[was|had been]] pushed to {where}"
    tags = []
    if sev == "SEV1":
        impact = r.choice((f"CloudTrail [[shows|showed]] it being used from an unknown IP to read production data.",
                           f"Someone [[has used|had used]] it to create admin users and pull customer records.",
                           f"Whoever found it [[has used|had used]] it to delete the {name} backups and several tables."))
        clause = "and it has been used by someone outside the company"
        tags = ["precedence"] if "delete" in impact else []  # data lost as well, but by an actor: security first
        action = f"Revoke {secret} now, rotate every credential {name} holds, and start the breach process."
    elif sev == "SEV2":
        impact = f"It [[was|had been]] public for {r.randint(2, 30)} hours before anyone noticed; we do not know yet whether it was used."
        clause = "public for hours, with unknown use"
        action = f"Revoke and rotate {secret}, then check the provider's logs for any use of it."
    elif sev == "SEV3":
        impact = r.choice((f"The logs [[are|were]] internal only, the key [[has|had]] read-only scope, and it [[is|was]] rotated within the hour.",
                           f"Only a prefix of it [[is|was]] visible and it [[is|was]] rotated the same day."))
        clause, tags = "with limited exposure, already rotated", ["cause_vs_impact"]
        action = f"Rotate {secret} and scrub it from {where}."
        lead = lead.replace(" [[was|had been]] pushed to", " [[shows|showed]] up in")
    else:
        impact = f"The secret scanner [[blocks|blocked]] the push, so it never [[reaches|reached]] {where}. {r.choice(NO_IMPACT)}"
        clause, tags = "but the push was blocked by the secret scanner", ["cause_vs_impact"]
        lead = f"someone [[tries|tried]] to push {secret} used by {name} to {where}"
        action = f"Rotate {secret} anyway as a precaution."
    return dict(
        services=[name], title=r.choice((f"Leaked credential: {secret}", "Secret exposed", f"{secret} leaked")),
        lead=lead, impact=impact, details=[], cause=None, cust=None,
        public=None,
        summary=f"{cap(lead)}, {clause}", action=action, alert=None, tags=tags,
        no_public=sev != "SEV1", no_alert=True)


def security_access(r, sev, c):
    name, public, does, tier, kind, _ = subject(r, "SEV2", ("api", "web", "tool"))
    tags = []
    if sev == "SEV1":
        lead = r.choice((f"an attacker [[has|had]] admin access to {name}",
                         f"we [[see|saw]] an unknown actor running commands on the {name} production hosts",
                         f"an attacker who got into {name} [[has|had]] deleted rows from {r.choice(DATASTORES)}"))
        impact = r.choice(("They [[have|had]] access to all customer data.", "They [[have|had]] exported the user table.",
                           "Customer records for every account [[are|were]] affected."))
        clause = "with access to customer data"
        tags = ["precedence"] if "deleted" in lead else []  # data lost too, but an attacker did it: security
        action = f"Cut the attacker's access to {name}, preserve evidence, and bring in the security on-call."
    elif sev == "SEV2":
        n = r.randint(12, 300)
        lead = r.choice((f"{n} customer accounts on {name} [[were|had been]] taken over through credential stuffing",
                         f"attackers [[are logging|logged]] into customer accounts on {name} with reused passwords"))
        impact = f"The attackers [[have|had]] signed in to all {n} and changed payout details on some."
        clause = "and some payout details were changed"
        action = f"Force a password reset on the {n} accounts, block the attacking IPs and turn on MFA prompts."
    elif sev == "SEV3":
        lead = r.choice((f"a former contractor's account could still sign in to {name}",
                         f"one employee's {name} session was used from an unfamiliar country"))
        impact = "The audit log [[shows|showed]] no actions beyond reading a dashboard, and the account [[is|was]] now disabled."
        clause = "with no actions taken and the account already disabled"
        action = f"Review all access to {name} for offboarded accounts and automate removal."
    else:
        lead = r.choice((f"a brute-force attempt [[is hitting|hit]] the {name} login", f"a phishing email [[is|was]] sent to staff impersonating {name}"))
        impact = r.choice(("The rate limiter [[blocks|blocked]] every attempt and no account [[is|was]] accessed.",
                           "Three people [[report|reported]] it and nobody [[clicks|clicked]] the link."))
        clause, tags = "blocked, with no account accessed", ["cause_vs_impact"]
        action = "Keep the blocks in place and add the indicators to the mail filter."
    return dict(
        services=[name], title=r.choice(("Unauthorized access", f"Suspicious logins on {name}", "Account takeover")),
        lead=lead, impact=impact, details=[], cause=None,
        cust=f"Someone logged into my account and changed my details. I did not do this!" if sev == "SEV2" else None,
        public="We [[are investigating|investigated]] unauthorized access to some accounts." if sev in ("SEV1", "SEV2") else None,
        summary=f"{cap(lead)}, {clause}", action=action, alert=None, tags=tags,
        no_public=sev in ("SEV3", "SEV4"), no_alert=True)


def security_vuln(r, sev, c):
    oss = r.random() < 0.5
    if oss:
        name, what, does, _, ver = project(r)
    else:
        name, public, does, tier, kind, _ = subject(r, "SEV2", ("api", "web"))
        ver = version(r)
    flaw = r.choice(("a stored XSS in the comment field", "an auth bypass via a crafted token", "a path traversal in file downloads",
                     "an SQL injection in the search parameter", "an IDOR that returns other users' invoices"))
    lead = f"{name} {ver} [[has|had]] {flaw}"
    tags = []
    if sev == "SEV1":
        impact = "It [[is|was]] being exploited right now: the logs [[show|showed]] hundreds of attempts and some successful reads of other users' data."
        clause = "and it is being actively exploited"
    elif sev == "SEV2":
        impact = "It [[is|was]] reachable by anyone on the public site; no exploitation [[is|was]] seen yet."
        clause = "reachable from the public site, with no exploitation seen yet"
    elif sev == "SEV3":
        impact = "It [[needs|needed]] an admin account to reach, and only the internal admin panel [[is|was]] affected."
        clause = "reachable only with an admin account"
    else:
        impact = r.choice(("We [[checked|had checked]]: the vulnerable code path is not used in our build, so we are not affected.",
                           "The CVE is in a dependency we only use in tests. Not exploitable here."))
        lead = f"a CVE [[is|was]] published for a library {name} {ver} uses"
        clause, tags = "but the vulnerable code is not used", ["cause_vs_impact"]
        flaw = "a CVE in a dependency"
    return dict(
        services=[name], title=r.choice(("Security vulnerability", f"Vulnerability in {name}", f"{flaw.split(' in ')[0].split(' via ')[0]} in {name}")),
        lead=lead, impact=impact, details=[], cause=None, cust=None, public=None,
        summary=f"{cap(lead)}, {clause}",
        action=(f"Ship a patched {name} release now and look for other exploited accounts." if sev == "SEV1" else
                f"Patch {flaw.split(' in ')[0].split(' via ')[0]} in {name} and release a fix." if sev in ("SEV2", "SEV3") else
                f"Update the dependency in {name} at the next release."),
        alert=None, tags=tags, oss=oss, no_public=True, no_alert=True)


# ---- data_loss: lost, corrupted or inconsistent, no attacker ----------------------------------------------

def data_deleted(r, sev, c):
    name, public, does, tier, kind, holds = subject(r, "SEV2", ("api", "job", "web"))
    store = r.choice(DATASTORES)
    how = r.choice((f"a cleanup job deleted {holds} it should have kept", f"a migration dropped {holds} from {store}",
                    f"a retention setting purged {holds} older than one day", f"a bad batch update overwrote {holds}"))
    tags = []
    if sev == "SEV1":
        n = num(r, 10, 500) + ",000"
        impact = r.choice((f"{n} customers' {holds} [[are|were]] gone and the newest backup [[is|was]] {r.randint(20, 70)} hours old.",
                           f"All {holds} written since {c['t0']} [[are|were]] lost for every customer; there [[is|was]] no backup of them."))
        clause = f"losing {holds} for about {n} customers" if n in impact else f"losing {holds} for every customer"
        action = f"Stop the job, restore {holds} from the latest {store} backup and tell affected customers."
        if r.random() < 0.6:  # down as well, but the lost data is what the responder acts on first
            impact += f" {name} [[is|was]] down too, since the rows it reads [[are|were]] gone."
            tags.append("precedence")
    elif sev == "SEV2":
        share = pct(r, 8, 30)
        impact = f"About {share} of accounts [[lost|had lost]] {holds}; most of it [[can|could]] be rebuilt from the event log, the rest [[is|was]] gone."
        clause = f"for about {share} of accounts, partly recoverable"
        action = f"Pause the job, rebuild {holds} from the event log and list what cannot be recovered."
    elif sev == "SEV3":
        n = r.randint(2, 30)
        impact = f"{n} users [[lost|had lost]] {holds}, and we [[can|could]] restore all of it from last night's backup."
        clause = f"for {n} users, fully restorable from backup"
        action = f"Restore the {n} users' {holds} from last night's backup and fix the job."
    else:
        impact = r.choice((f"It [[was|had been]] the staging copy of {store}; production [[is|was]] untouched. {r.choice(NO_IMPACT)}",
                           f"The dry-run flag [[catches|caught]] it before anything [[is|was]] deleted. {r.choice(NO_IMPACT)}"))
        clause, tags = "in staging or a dry run only, with no customer data lost", ["cause_vs_impact"]
        action = f"Fix the job's filter before it runs against production {store}."
    return dict(
        services=[name, store] if r.random() < 0.5 else [name],
        title=r.choice((f"Data loss in {name}", f"{cap(holds)} deleted", f"Missing {holds}")),
        lead=f"in {name}, {how}", impact=impact, details=[], cause=None,
        cust=f"All my {holds} are gone from {public}. They were there yesterday!" if sev in ("SEV1", "SEV2", "SEV3") else None,
        public=f"Some customers [[may notice|noticed]] missing {holds}." if sev in ("SEV1", "SEV2") else None,
        summary=f"In {name}, {how}, {clause}", action=action, alert=None, tags=tags,
        no_public=sev in ("SEV3", "SEV4"), no_alert=True)


def data_sync(r, sev, c):
    """An upgrade or a sync that deletes or overwrites users' own data (often an open-source project)."""
    name, what, does, holds, ver = project(r)
    how = r.choice((f"upgrading {name} to {ver} [[deletes|deleted]] {holds}", f"the {name} {ver} sync [[overwrites|overwrote]] local {holds} with an older copy",
                    f"after the {name} {ver} update {holds} [[are|were]] empty", f"{name} {ver} [[corrupts|corrupted]] {holds} on save"))
    tags = []
    if sev == "SEV1":
        impact = r.choice(("It [[happens|happened]] to every user who upgrades, and the old data [[is|was]] not in the trash either.",
                           "Every install we [[try|tried]] loses everything; there [[is|was]] no way to get the data back."))
        clause = "for every user who upgrades, unrecoverable"
    elif sev == "SEV2":
        impact = f"It [[hits|hit]] everyone who [[syncs|synced]] two devices at once, a big share of users; some data [[comes|came]] back from the trash, some [[does|did]] not."
        clause = "for users syncing two devices, partly recoverable"
    elif sev == "SEV3":
        impact = f"Only with {r.choice(('a symlinked data folder', 'a network share', 'more than 5,000 items'))}, and the files [[are|were]] still in the trash."
        clause = "only in one rare setup, recoverable from the trash"
    else:
        impact = "It [[happens|happened]] in the release candidate only and [[is|was]] caught by the beta testers; the release [[is|was]] held."
        clause, tags = "in a release candidate only, caught before release", ["cause_vs_impact"]
    return dict(
        services=[name], title=r.choice((f"Data loss after upgrading to {ver}", f"{ver} deletes {holds}", f"Sync overwrote my {holds}")),
        lead=how, impact=impact, details=[], cause=None,
        cust=f"I just updated to {ver} and my {holds} are gone. Please help.",
        public=None, summary=f"{cap(how)}, {clause}",
        action=(f"Pull {ver}, publish a warning not to upgrade, and ship a fix with a recovery tool." if sev in ("SEV1", "SEV2") else
                f"Fix the {ver} data handling for that setup in the next release."),
        alert=None, tags=tags, oss=True, no_public=True, no_alert=True)


def data_dropped(r, sev, c):
    name, public, does, tier, kind, holds = subject(r, "SEV2", ("job", "api"))
    topic = {"SEV1": "payment-events", "SEV2": r.choice(("usage-events", "order-events", "clickstream")),
             "SEV3": "audit-log", "SEV4": r.choice(("usage-events", "clickstream", "order-events", "audit-log"))}[sev]
    lead = r.choice((f"{name} [[is dropping|dropped]] messages from the {topic} topic",
                     f"the {topic} consumer in {name} [[skips|skipped]] events after a rebalance",
                     f"events on {topic} [[are|were]] lost before {name} [[stores|stored]] them"))
    tags = []
    if sev == "SEV1":
        impact = f"{num(r, 2, 40)},000 charges [[have|had]] no record, so customers [[are|were]] charged but their orders [[are|were]] missing."
        clause = "so thousands of charges have no order"
    elif sev == "SEV2":
        impact = f"{duration(r, 120, 600)} of usage data [[is|was]] missing for about {pct(r, 10, 35)} of tenants, and their invoices [[will be|would have been]] wrong."
        clause = "leaving usage data missing for many tenants"
    elif sev == "SEV3":
        impact = f"Only internal audit events for {duration(r, 10, 40)} [[are|were]] missing; customers [[see|saw]] nothing."
        clause = "a gap in internal events only"
    else:
        impact = f"The producer [[retries|retried]], and a replay [[shows|showed]] every event arrived. {r.choice(NO_IMPACT)}"
        clause, tags = "but every event was delivered on retry", ["cause_vs_impact"]
    return dict(
        services=[name], title=r.choice((f"Dropped events on {topic}", f"{name} losing messages", f"Missing {topic}")),
        lead=lead, impact=impact, details=[], cause=None, cust=None, public=None,
        summary=f"{cap(lead)}, {clause}",
        action=(f"Stop {name}, replay {topic} from the retained offsets and reconcile the records." if sev in ("SEV1", "SEV2") else
                f"Check the {topic} consumer offsets in {name} and add an alert on gaps."),
        alert=("ConsumerLag", num(r, 5, 90) + "k", "10k"), tags=tags, no_public=True)


def data_money(r, sev, c):
    """Money or records wrong: duplicate charges, wrong balances (data_loss: inconsistent, no attacker)."""
    name, public, does, tier, kind, holds = subject(r, "SEV1", ("api",))
    lead = r.choice((f"{name} [[is charging|charged]] customers twice for one order",
                     f"{name} [[shows|showed]] wrong balances after a double-posted batch",
                     f"refunds processed by {name} [[are|were]] recorded twice"))
    tags = []
    if sev == "SEV1":
        n = num(r, 1, 30) + ",000"
        impact = f"About {n} customers [[are|were]] affected, roughly ${num(r, 40, 900)},000 in total."
        clause = f"affecting about {n} customers"
        if r.random() < 0.4:  # checkout fails too, but wrong money is what the responder acts on first: data_loss
            impact += f" New payments through {name} now [[fail|failed]] outright as well."
            tags.append("precedence")
    elif sev == "SEV2":
        n = r.randint(60, 900)
        impact = f"{n} customers [[are|were]] affected; finance [[is|was]] reconciling by hand."
        clause = f"affecting {n} customers"
    elif sev == "SEV3":
        n = r.randint(2, 9)
        impact = f"{n} orders [[are|were]] affected and [[have been|were]] refunded already."
        clause = f"for {n} orders, already refunded"
    else:
        impact = "The reconciliation job [[catches|caught]] the duplicates before settlement, so no customer [[is|was]] charged."
        clause = "caught before settlement, so no customer was charged"
    return dict(
        services=[name], title=r.choice(("Double charges", f"Duplicate records in {name}", "Wrong balances")),
        lead=lead, impact=impact, details=[], cause=None,
        cust="I was charged twice for the same order!" if sev != "SEV4" else None,
        public="Some customers [[may see|saw]] duplicate charges." if sev in ("SEV1", "SEV2") else None,
        summary=f"{cap(lead)}, {clause}",
        action=(f"Stop {name} from posting, refund the duplicates and reconcile with the payment provider." if sev in ("SEV1", "SEV2") else
                f"Refund the affected orders and fix the duplicate posting in {name}." if sev == "SEV3" else
                f"Find out why {name} produced duplicates before settlement."),
        alert=None, tags=tags + (["cause_vs_impact"] if sev == "SEV4" else []), no_public=sev in ("SEV3", "SEV4"), no_alert=True)


def data_backup(r, sev, c):
    store = r.choice(DATASTORES)
    lead = r.choice((f"backups of {store} [[have been failing|had been failing]] silently", f"the nightly snapshot of {store} [[is|was]] corrupt",
                     f"the restore test of {store} [[fails|failed]]"))
    if sev == "SEV2":
        impact = f"There [[is|was]] no good production backup for {r.randint(2, 6)} weeks; nothing [[is|was]] lost yet, but one bad day would lose it all."
        clause = "leaving production without a usable backup for weeks"
    elif sev == "SEV3":
        impact = "One night's backup of a non-critical table [[is|was]] missing; the next run [[works|worked]]."
        clause = "for one night and one non-critical table"
    else:
        impact = f"Only the staging backup [[is|was]] affected; production backups [[are|were]] verified. {r.choice(NO_IMPACT)}"
        clause = "in staging only; production backups are verified"
    return dict(
        services=[store], title=r.choice((f"Backups failing for {store}", "Backup problem", f"{store} restore test failed")),
        lead=lead, impact=impact, details=[], cause=None, cust=None, public=None,
        summary=f"{cap(lead)}, {clause}",
        action=f"Take a manual backup of {store} now and fix the backup job.",
        alert=("BackupFailed", "1", "0"), tags=["cause_vs_impact"] if sev == "SEV4" else [], no_public=True)


# Failure modes by category, each with the severities it can state.
MODES = {
    "outage": ((outage_down, ("SEV1", "SEV2", "SEV3", "SEV4")), (outage_crash, ("SEV1", "SEV2", "SEV3", "SEV4")),
               (outage_cannot, ("SEV1", "SEV2", "SEV3", "SEV4"))),
    "degradation": ((degradation_slow, ("SEV1", "SEV2", "SEV3", "SEV4")), (degradation_errors, ("SEV1", "SEV2", "SEV3", "SEV4")),
                    (degradation_delay, ("SEV2", "SEV3", "SEV4")), (degradation_cosmetic, ("SEV3", "SEV4", "SEV4"))),
    "security": ((security_exposure, ("SEV1", "SEV2", "SEV3", "SEV4")), (security_secret, ("SEV1", "SEV2", "SEV3", "SEV4")),
                 (security_access, ("SEV1", "SEV2", "SEV3", "SEV4")), (security_vuln, ("SEV1", "SEV2", "SEV3", "SEV4"))),
    "data_loss": ((data_deleted, ("SEV1", "SEV2", "SEV3", "SEV4")), (data_sync, ("SEV1", "SEV2", "SEV3", "SEV4")),
                  (data_dropped, ("SEV1", "SEV2", "SEV3", "SEV4")), (data_money, ("SEV1", "SEV2", "SEV3", "SEV4")),
                  (data_backup, ("SEV2", "SEV3", "SEV4"))),
}


PUBLIC = {s[0]: s[1] for s in SUBJECTS}  # a status page or a customer says "checkout", not "checkout-api"


def incident(r, sev: str, cat: str, c: dict) -> dict:
    """The facts of one incident of cell (sev, cat)."""
    modes = [m for m, sevs in MODES[cat] for s in sevs if s == sev]
    facts = r.choice(modes)(r, sev, c)
    facts["aka"] = {name: PUBLIC[name] for name in facts["services"] if name in PUBLIC}
    return facts
