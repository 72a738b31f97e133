"""The styles a report comes in: the same facts as a monitoring alert, a chat message, a support ticket,
an issue on a tracker, a status-page update, a postmortem excerpt or an e-mail.

A renderer frames the facts of ftlab/data/synth/incidents.py and never adds or drops impact: every report
states the symptom (`lead`) and the impact (`impact`), since the impact is what the severity follows.
What a renderer may add: a time, a reporter, a stated priority or tone (which may disagree with the
impact: the `misleading_priority` hard case), a service named as unaffected (`distractor`), details,
the cause. Lengths run from a one-line page or chat message to a few paragraphs, as real reports do.
Each renderer returns (text, tags, past) where past says whether the report is written after the fact.
"""
import re

from ftlab.data.synth.vocab import BYSTANDERS, CUSTOMERS, PEOPLE, PROJECTS, SUBJECTS, cap, hm, person, tense

NAMES = tuple(s[0] for s in SUBJECTS if not s[0].startswith("the ")) + tuple(p[0] for p in PROJECTS)

STYLES = ("alert", "chat", "ticket", "issue", "status_page", "postmortem", "email")
# The order of a pass over the styles: issues twice, since most real reports seen come from issue trackers.
STYLE_CYCLE = ("alert", "chat", "ticket", "issue", "issue", "status_page", "postmortem", "email")

LEVELS = ("SEV1", "SEV2", "SEV3", "SEV4")


def stated(r, sev, scale, p_off=0.25):
    """A stated priority from `scale` (most to least urgent): usually the true level, sometimes two or
    more levels off (returned with True: a misleading priority)."""
    true = LEVELS.index(sev)
    if r.random() < p_off:
        far = [i for i in range(len(scale)) if abs(i - true) >= 2]
        return scale[r.choice(far)], True
    return scale[min(max(true + r.choice((0, 0, 0, 1, -1)), 0), len(scale) - 1)], False


def sentence(text: str) -> str:
    """A sentence: capitalised unless it starts with a name as engineers write it (checkout-api, kvlite)."""
    text = text.strip()
    first = text.split(" ", 1)[0]
    starts_with_name = not first.isalpha() or any(first.lower() == n.split(" ")[0] for n in NAMES)
    return (text if starts_with_name else cap(text)) + ("" if text.endswith((".", "!", "?", ")")) else ".")


def distractor(r, facts):
    """A neighbour named as fine, or None."""
    if r.random() < 0.5:
        return None, None
    name = r.choice([b for b in BYSTANDERS if not any(b.lower() in s.lower() or s.lower() in b.lower() for s in facts["services"])])
    return name, r.choice((f"No problems on {name}.", f"Nothing wrong with {name}.", f"{name}: all green.",
                           f"We checked {name} too: not affected.", f"Not related: {name}."))


def filler(r, facts, c):
    """Sentences any report may carry whatever its labels: where to look, what was tried, when it started."""
    svc = facts["services"][0]
    pool = (f"First seen at {c['t0']} UTC.", f"Dashboard: https://grafana.{c['domain']}/d/{r.randint(100, 999)}",
            f"Trace id {r.randrange(16 ** 12):012x}.", "Logs attached.", "We [[are looking|looked]] into it.",
            f"Runbook: https://wiki.{c['domain']}/runbooks/{svc.replace(' ', '-').lower()}",
            f"Nothing in the deploy log for {svc} in the last {r.randint(2, 12)} hours.", "Screenshots in the thread.",
            f"Ticket #{r.randint(10000, 99999)} has the details.", "Restarting did not change anything.",
            f"{cap(r.choice(PEOPLE))} [[is|was]] looking at it.", "Will update here.")
    return r.sample(pool, r.choice((0, 1, 1, 2, 3)))


def body(r, facts, past, terse=False, c=None):
    """The engineer-voice sentences: lead, impact, then (unless terse) cause, details and filler."""
    out = [sentence(facts["lead"]), facts["impact"]]
    if not terse:
        if facts.get("cause"):
            out.append(facts["cause"])
        out += [d for d in facts["details"] if r.random() < 0.6]
        out += filler(r, facts, c) if c else []
    return [tense(s, past) for s in out]


def render_alert(r, facts, c):
    past = False
    metric = facts.get("alert")
    svc = facts["services"][0]
    level, mis = stated(r, c["sev"], ("critical", "high", "warning", "info"), 0.15)
    tool = r.choice(("alertmanager", "datadog", "pagerduty", "cloudwatch"))
    lead, impact = tense(sentence(facts["lead"]), past), tense(facts["impact"], past)
    if tool == "alertmanager":
        name = metric[0] if metric else "IncidentReported"
        lines = [f"[FIRING:1] {name} ({svc} {c['env']} {level})", f"summary: {lead}", f"impact: {impact}"]
        if metric:
            lines.insert(1, f"value: {metric[1]} (threshold {metric[2]}) for 10m")
    elif tool == "datadog":
        lines = [f"[Triggered] [{level.upper()}] {facts['title']} on {svc}", lead + " " + impact]
        if metric:
            lines.append(f"Current value {metric[1]} crossed the threshold {metric[2]}.")
    elif tool == "pagerduty":
        lines = [f"PagerDuty: [{level}] {facts['title']}", f"Service: {svc}", f"Details: {lead} {impact}"]
    else:
        lines = [f"ALARM: \"{svc}-{(metric[0] if metric else 'health').lower()}\" in {c['region']}",
                 f"State changed to ALARM at {c['t0']} UTC." + (f" Value {metric[1]} > {metric[2]}." if metric else ""),
                 f"{lead} {impact}"]
    tags = ["misleading_priority"] if mis else []
    d, dtext = distractor(r, facts)
    if d:
        lines.append(tense(dtext, past))
        tags.append("distractor")
    return "\n".join(lines), tags, past, d


def chatty(r, text, protect):
    """Lower-case, clipped chat wording; the names in `protect` keep their spelling."""
    keep = {}
    for i, name in enumerate(sorted(protect, key=len, reverse=True)):
        token = f"\0{i}\0"
        at = text.lower().find(name.lower())
        if at >= 0:
            keep[token] = text[at:at + len(name)]
            text = text[:at] + token + text[at + len(name):]
    if r.random() < 0.7:
        text = text.lower()
    for a, b in ((r"\bminutes\b", "min"), (r"\bbecause\b", "bc"), (r"\bthe\b ", ""), (r"\bwith\b", "w/"),
                 (r"\bcustomers\b", "customers"), (r"\bproduction\b", "prod"), (r"\bapproximately\b", "~")):
        if r.random() < 0.3:
            text = re.sub(a, b, text)
    for token, name in keep.items():
        text = text.replace(token, name)
    return text.rstrip(".")


TONE = {"SEV1": ("this is bad", "🚨", "declaring an incident", "all hands"), "SEV2": ("need eyes on this", "heads up", "not great"),
        "SEV3": ("minor one", "fyi", "low-ish prio"), "SEV4": ("fyi", "no rush", "just flagging")}
ALARM = ("URGENT!!!", "P1 P1 P1", "🔥🔥🔥 prod is on fire", "need help ASAP")
CALM = ("prob nothing but", "no rush, but", "low prio:", "minor thing:")


def render_chat(r, facts, c):
    past = False
    sents = body(r, facts, past, terse=r.random() < 0.5, c=c)
    d, dtext = distractor(r, facts)
    if d:
        sents.append(tense(dtext, past))
    protect = facts["services"] + list(facts["aka"].values()) + ([d] if d else [])
    lines = [chatty(r, s, protect) for s in sents]
    tags = ["distractor"] if d else []
    sev = c["sev"]
    if r.random() < 0.2:  # a tone two or more levels away from the truth
        tone = r.choice(ALARM) if sev in ("SEV3", "SEV4") else r.choice(CALM) if sev == "SEV1" else None
        if tone:
            lines[0] = f"{tone} {lines[0]}"
            tags.append("misleading_priority")
    elif r.random() < 0.5:
        lines.append(r.choice(TONE[sev]))
    opener = r.choice(("", "", "@oncall ", "@here ", f"@{r.choice(PEOPLE)} ", "hey, "))
    lines[0] = opener + lines[0]
    if r.random() < 0.4:
        who = r.sample(PEOPLE, 2)
        return "\n".join(f"{who[i % 2] if i else who[0]}: {line}" for i, line in enumerate(lines)), tags, past, d
    return ("\n".join(lines) if r.random() < 0.6 else ". ".join(lines)), tags, past, d


def render_ticket(r, facts, c):
    past = False
    sev = c["sev"]
    tags = []
    if facts.get("cust") and r.random() < 0.6:  # a customer's ticket, with the agent's note on the impact
        prio, mis = stated(r, sev, ("Urgent", "High", "Normal", "Low"))
        who = r.choice(CUSTOMERS)
        text = (f"Subject: {facts['title']}\nFrom: {person(r)} ({who})\nPriority (set by customer): {prio}\n\n"
                f"{facts['cust']}\n\nInternal note: {tense(sentence(facts['lead']), past)} {tense(facts['impact'], past)}")
    else:
        prio, mis = stated(r, sev, ("Blocker", "Critical", "Major", "Minor"))
        key = f"{r.choice(('OPS', 'INC', 'PLAT', 'SRE'))}-{r.randint(100, 4999)}"
        text = (f"[{key}] {facts['title']}\nType: Bug · Priority: {prio} · Reporter: {person(r)}\n\n"
                + " ".join(body(r, facts, past, c=c)))
    d, dtext = distractor(r, facts)
    if d:
        text += " " + tense(dtext, past)
        tags.append("distractor")
    return text, tags + (["misleading_priority"] if mis else []), past, d


def render_issue(r, facts, c):
    past = False
    tags = []
    oss = facts.get("oss")
    lead, impact = tense(sentence(facts["lead"]), past), tense(facts["impact"], past)
    title = facts["title"]
    form = r.choice(("prose", "prose", "template", "short"))
    if form == "short":
        text = f"{title}\n\n{lead} {impact}"
    elif form == "template":
        env = r.choice(("Ubuntu 24.04, Docker 27", "macOS 15.1", "Windows 11", "Kubernetes 1.31", "Debian 12"))
        steps = ("\n\n### To reproduce\n1. " + r.choice(("Install the latest release", "Upgrade from the previous version",
                                                         "Open the app", "Run the default configuration"))
                 + "\n2. " + r.choice(("Open any project", "Sign in", "Wait a few minutes", "Trigger a sync")) + "\n3. See the problem"
                 if r.random() < 0.6 else "")
        text = (f"{title}\n\n### Describe the bug\n{lead}{steps}\n\n### Impact\n{impact}\n\n"
                f"### Environment\n{env}" + (f"\n\n### Additional context\n{tense(facts['cause'], past)}" if facts.get("cause") else ""))
    else:
        opener = (r.choice(("Hi, ", "Hello! ", "", "", "Hey folks, ")) + (facts["cust"] + " " if facts.get("cust") and r.random() < 0.5 else "")) if oss else ""
        rest = [impact] + ([tense(facts["cause"], past)] if facts.get("cause") and r.random() < 0.6 else [])
        if oss and r.random() < 0.4:  # the impact confirmed in a maintainer's reply
            text = f"{title}\n\n{opener}{lead}\n\n[maintainer] Confirmed. {' '.join(rest)}"
        else:
            text = f"{title}\n\n{opener}{lead} {' '.join(rest)}"
    d, dtext = distractor(r, facts)
    if d and not oss:
        text += " " + tense(dtext, past)
        tags.append("distractor")
    else:
        d = None
    return text, tags, past, d


def render_status(r, facts, c):
    past = r.random() < 0.5
    t0, t1 = c["t0"], hm(c["m0"] + r.randint(20, 180))
    if facts.get("public") and not facts.get("no_public"):
        state = "Resolved" if past else r.choice(("Investigating", "Identified", "Monitoring"))
        first = tense(facts["public"], past)
        impact = tense(facts["impact"], past)
        components = ", ".join(cap(facts["aka"].get(n, n)) for n in facts["services"])
        text = (f"{facts['title']}\n\n{state} - {first} {impact}" +
                (f" The issue started at {t0} UTC and was fixed at {t1} UTC." if past else " Next update in 30 minutes.")
                + f"\nAffected components: {components}")
    else:  # an internal status update
        state = "Resolved" if past else "Ongoing"
        text = (f"Internal incident update ({state}, {t0} UTC)\n" + " ".join(body(r, facts, past, c=c)))
    return text, [], past, None


def render_postmortem(r, facts, c):
    past = True
    sents = body(r, facts, past, c=c)
    t0 = c["t0"]
    head = r.choice(("Postmortem", "Incident review", "Post-incident summary"))
    text = (f"{head}: {facts['title']}\n\nSummary: On {c['date']} at {t0} UTC {sents[0][0].lower() + sents[0][1:]}\n"
            f"Impact: {sents[1]}" + (f"\nRoot cause: {' '.join(sents[2:])}" if sents[2:] else ""))
    if r.random() < 0.5:
        steps = [(0, "first alert"), (r.randint(3, 15), "on-call engaged"), (r.randint(16, 60), "cause identified"),
                 (r.randint(61, 180), "mitigated")]
        text += "\nTimeline (UTC): " + "; ".join(f"{hm(c['m0'] + m)} {what}" for m, what in steps)
    d, dtext = distractor(r, facts)
    if d:
        text += f"\nNot affected: {tense(dtext, past)}"
    return text, ["distractor"] if d else [], past, d


def render_email(r, facts, c):
    past = False
    if facts.get("cust") and r.random() < 0.5:  # a customer's words, forwarded with what we know
        text = (f"Subject: Fwd: {facts['title']}\n\nForwarding from {r.choice(CUSTOMERS)}: \"{facts['cust']}\"\n\n"
                f"What we know: " + " ".join(body(r, facts, past, terse=True)) + f"\n\n{cap(r.choice(PEOPLE))}")
    else:
        text = (f"Subject: {facts['title']}\n\nHi all,\n\n" + " ".join(body(r, facts, past, c=c)) + f"\n\n{cap(r.choice(PEOPLE))}")
    return text, [], past, None


RENDERERS = {"alert": render_alert, "chat": render_chat, "ticket": render_ticket, "issue": render_issue,
             "status_page": render_status, "postmortem": render_postmortem, "email": render_email}
