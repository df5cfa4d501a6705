//! The search benchmark's data set: a deterministic generator of leads with a realistic
//! spread, and the queries timed on them. Shared by the load through the REST API
//! (`search.rs`), the bulk load (`bulk.rs`) and the PostgreSQL peer (`pg_peer.rs`), so
//! that each loads the same leads and times the same queries.

use std::time::Duration;

use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*): the same seed gives the same leads.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const COMPANY: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Aperture",
    "Gringotts",
    "Monarch",
    "Oceanic",
];
const SUFFIX: &[&str] = &[
    "Corp",
    "Inc",
    "Labs",
    "Group",
    "Systems",
    "Foods",
    "Logistics",
    "Partners",
];
const FIRST: &[&str] = &[
    "John",
    "Jane",
    "Zoë",
    "Ahmed",
    "Li",
    "Maria",
    "Peter",
    "Olga",
    "Ken",
    "Ana",
    "Hank",
    "Jean-Pierre",
];
const LAST: &[&str] = &[
    "Smith", "Doe", "Nguyen", "Garcia", "Müller", "Rossi", "Tanaka", "Okafor", "Dubois", "Novak",
];
const TITLE: &[&str] = &["CEO", "CTO", "VP Sales", "Engineer", "Buyer", "Office Manager"];
const WORDS: &[&str] = &[
    "pricing",
    "demo",
    "contract",
    "renewal",
    "budget",
    "integration",
    "onboarding",
    "discount",
    "security",
    "roadmap",
];
const STATUSES: &[&str] = &["Potential", "Qualified", "Customer", "Bad Fit", "Cold", "Hot"];
pub(crate) const SOURCES: &[&str] = &["Web", "Referral", "Event", "Partner"];
pub(crate) const TIERS: &[&str] = &["Gold", "Silver", "Bronze"];

fn ago(days: u64, seconds: u64) -> String {
    let t = std::time::SystemTime::now() - Duration::from_secs(days * 86_400 + seconds);
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // Days to a civil date (Howard Hinnant's algorithm), to stay free of a date crate here.
    let (days_since, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days_since + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One generated lead (its JSON, contacts included) and the related objects to create for it,
/// by API path (`note`, `call`, `email`, `sms`, `meeting`, `opportunity`, `task`).
pub(crate) type Plan = (Value, Vec<(&'static str, Value)>);

/// One lead and the requests that make its related objects.
fn generate(r: &mut Random, i: usize, fields: &Fields) -> Plan {
    let company = format!("{} {} {i}", r.pick(COMPANY), r.pick(SUFFIX));
    let contacts: Vec<Value> = (0..1 + r.below(5))
        .map(|c| {
            let (first, last) = (r.pick(FIRST), r.pick(LAST));
            json!({"name": format!("{first} {last}"), "title": r.pick(TITLE),
                   "emails": [{"email": format!("{}.{c}.{i}@example{}.com", first.to_lowercase().replace(['ë', '-'], ""), i % 97)}],
                   "phones": [{"phone": format!("+1 415 {:03} {:04}", 200 + r.below(700), r.below(10_000))}]})
        })
        .collect();
    let lead = json!({
        "name": company, "url": format!("{}.example.com", company.to_lowercase().replace(' ', "-")),
        "description": format!("Interested in {} and {}", r.pick(WORDS), r.pick(WORDS)),
        "status": r.pick(STATUSES), "contacts": contacts,
        "addresses": [{"city": r.pick(&["Paris", "Berlin", "Austin", "Tokyo", "Lagos"]), "country": r.pick(&["FR", "DE", "US", "JP", "NG"])}],
        format!("custom.{}", fields.source): r.pick(SOURCES),
        format!("custom.{}", fields.seats): r.below(500),
        format!("custom.{}", fields.tier): r.pick(TIERS),
        format!("custom.{}", fields.renewal): ago(r.below(400), 0)[..10].to_string(),
        format!("custom.{}", fields.notes): format!("{} {}", r.pick(WORDS), r.pick(WORDS)),
    });
    let mut children = Vec::new();
    for _ in 0..r.below(31) {
        let at = ago(r.below(365), r.below(86_400));
        let (path, body) = match r.below(5) {
            0 => (
                "note",
                json!({"note": format!("Talked about {}", r.pick(WORDS)), "activity_at": at}),
            ),
            1 => (
                "call",
                json!({"direction": r.pick(&["outbound", "inbound"]), "duration": r.below(1800), "status": r.pick(&["completed", "no-answer", "busy"]), "note": r.pick(WORDS), "activity_at": at}),
            ),
            2 => {
                let opens: Vec<Value> = (0..r.below(3))
                    .map(|_| json!({"opened_at": ago(r.below(30), r.below(86_400))}))
                    .collect();
                (
                    "email",
                    json!({"subject": format!("Re: {}", r.pick(WORDS)), "body_text": r.pick(WORDS), "direction": r.pick(&["outgoing", "incoming"]), "status": r.pick(&["sent", "inbox", "draft"]), "opens": opens, "activity_at": at}),
                )
            }
            3 => (
                "sms",
                json!({"text": r.pick(WORDS), "direction": r.pick(&["outbound", "inbound"]), "activity_at": at}),
            ),
            _ => (
                "meeting",
                json!({"title": format!("{} review", r.pick(WORDS)), "starts_at": at}),
            ),
        };
        children.push((path, body));
    }
    for _ in 0..r.below(4) {
        children.push(("opportunity", json!({"status": r.pick(&["Active", "Won", "Lost"]), "value": r.below(5_000_000), "confidence": r.below(101)})));
    }
    for _ in 0..r.below(6) {
        children.push(("task", json!({"text": format!("Follow up on {}", r.pick(WORDS)), "date": ago(r.below(60), 0)[..10].to_string(), "is_complete": r.below(2) == 1})));
    }
    (lead, children)
}

/// The generated leads in order, one at a time: the same seed, so the same leads for
/// Rapport and for the peer, without holding a million in memory.
pub(crate) struct PlanSource {
    random: Random,
    next: usize,
    fields: std::sync::Arc<Fields>,
}

impl PlanSource {
    pub(crate) fn new(fields: std::sync::Arc<Fields>) -> PlanSource {
        PlanSource {
            random: Random(0x5EED_CAFE),
            next: 0,
            fields,
        }
    }

    pub(crate) fn next_plan(&mut self) -> Plan {
        let plan = generate(&mut self.random, self.next, &self.fields);
        self.next += 1;
        plan
    }
}

/// The ids Rapport gave the custom fields; the lead JSON has them as `custom.<id>` keys.
pub(crate) struct Fields {
    pub(crate) source: String,
    pub(crate) seats: String,
    pub(crate) tier: String,
    pub(crate) renewal: String,
    pub(crate) notes: String,
}

pub const QUERIES: &[&str] = &[
    "status:cold called:never email_opened < \"3 days ago\"",
    "acme",
    "\"acme corp\"",
    "pricing",
    "phone:415",
    "john smith",
    "email:example3.com",
    "status:hot",
    "-status:customer calls > 5",
    "call(duration > 600 direction:inbound)",
    "email(opened > \"1 week ago\")",
    "opportunity(status_type:won value > 10000)",
    "opportunity_value >= 40000 sort:-calls",
    "contacts:1 has:phone",
    "last_called < \"30 days ago\"",
    "last_activity > \"200 days ago\"",
    "\"custom.Lead Source\":referral \"custom.Tier\":gold",
    "custom.seats > 400 sort:-custom.seats",
    "task(done:no due < today)",
    "sort:name",
    "note(contract) or meeting(title:demo)",
    "city:paris created:today",
];
