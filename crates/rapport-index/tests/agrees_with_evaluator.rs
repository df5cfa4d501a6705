//! The index's property: for random leads and random queries built from the grammar, the
//! index returns exactly the leads the reference evaluator accepts, in the same order.
//!
//! Fixed seeds in CI; a longer run is one command away:
//!
//! ```text
//! RAPPORT_PROPERTY_CASES=2000 cargo test --release -p rapport-index --test agrees_with_evaluator
//! RAPPORT_PROPERTY_SEED=12345 …   # start from another seed
//! ```

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rapport_index::SearchIndex;
use rapport_query::{
    Activity, ActivityKind, Address, Contact, CustomField, CustomFieldObject, CustomFieldType, CustomValue, Due, Lead,
    Opportunity, OpportunityStatus, SearchContext, StatusType, Task, User,
};

/// xorshift64*: the same seed gives the same leads and queries.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn maybe(&mut self, percent: usize, items: &[&str]) -> Option<String> {
        self.chance(percent).then(|| self.pick(items).to_string())
    }
}

const ORG: &str = "orga_1";
const WORDS: &[&str] = &[
    "acme",
    "acme corp",
    "Globex",
    "pricing",
    "demo",
    "renewal",
    "contract",
    "John Smith",
    "jo",
    "Zoë",
    "café",
    "São Paulo",
    "anvil",
    "rocket",
    "Acme Café",
    "smith",
    "",
];
const STATUSES: &[&str] = &["Potential", "Cold", "Warm", "Customer", "Bad Fit"];
const USERS: &[&str] = &["u_ann", "u_bob", "u_cho"];
const CITIES: &[&str] = &["Paris", "San Francisco", "São Paulo", "paris", "New York"];
const DIRECTIONS: &[&str] = &["inbound", "outbound"];
const PHONES: &[&str] = &["+14155550123", "+33142685300", "+14155559999", "+442071838750"];

fn now() -> DateTime<Utc> {
    "2024-05-15T12:00:00Z".parse().unwrap()
}

fn context() -> SearchContext {
    let custom = |id: &str, name: &str, value_type, object, choices: &[&str], multiple| CustomField {
        id: id.into(),
        name: name.into(),
        value_type,
        choices: choices.iter().map(|c| c.to_string()).collect(),
        accepts_multiple_values: multiple,
        object,
    };
    use CustomFieldObject as O;
    use CustomFieldType as T;
    let user = |id: &str, name: &str, email: &str| User {
        id: id.into(),
        full_name: name.into(),
        email: email.into(),
    };
    let status = |label: &str, status_type| OpportunityStatus {
        label: label.into(),
        status_type,
    };
    SearchContext {
        custom_fields: vec![
            custom(
                "cf_src",
                "Source",
                T::Choices,
                O::Lead,
                &["Web", "Referral", "Event"],
                false,
            ),
            custom("cf_size", "Seats", T::Number, O::Lead, &[], false),
            custom("cf_renew", "Renewal", T::Date, O::Lead, &[], false),
            custom("cf_kick", "Kickoff", T::Datetime, O::Lead, &[], false),
            custom("cf_notes", "Notes", T::Text, O::Lead, &[], false),
            custom("cf_tags", "Tags", T::Choices, O::Lead, &["vip", "partner"], true),
            custom("cf_owner", "Owner", T::User, O::Lead, &[], false),
            custom("cf_role", "Role", T::Choices, O::Contact, &["Buyer", "Champion"], false),
            custom("cf_region", "Region", T::Text, O::Opportunity, &[], false),
        ],
        lead_statuses: STATUSES.iter().map(|s| s.to_string()).collect(),
        opportunity_statuses: vec![
            status("Active", StatusType::Active),
            status("Won", StatusType::Won),
            status("Lost", StatusType::Lost),
        ],
        users: vec![
            user("u_ann", "Ann Lee", "ann@rapport.test"),
            user("u_bob", "Bob Stone", "bob@rapport.test"),
            user("u_cho", "Chloé Martin", "chloe@rapport.test"),
        ],
        saved_views: Vec::new(),
        current_user_id: Some("u_ann".into()),
        now: now(),
        tz_offset_hours: 2.0,
    }
}

fn when(r: &mut Random) -> DateTime<Utc> {
    now() - Duration::hours(r.below(24 * 120) as i64) - Duration::seconds(r.below(3600) as i64)
}

fn day(r: &mut Random) -> NaiveDate {
    now().date_naive() + Duration::days(r.below(120) as i64 - 60)
}

fn lead(r: &mut Random, i: usize) -> Lead {
    let mut custom = rapport_query::CustomValues::new();
    if r.chance(60) {
        custom.insert(
            "cf_src".into(),
            vec![CustomValue::Text(r.pick(&["Web", "Referral", "Event"]).into())],
        );
    }
    if r.chance(60) {
        custom.insert("cf_size".into(), vec![CustomValue::Number(r.below(500) as f64 - 20.0)]);
    }
    if r.chance(50) {
        custom.insert("cf_renew".into(), vec![CustomValue::Date(day(r))]);
    }
    if r.chance(50) {
        let kickoff = if r.chance(70) {
            CustomValue::DateTime(when(r))
        } else {
            CustomValue::Date(day(r))
        };
        custom.insert("cf_kick".into(), vec![kickoff]);
    }
    if r.chance(40) {
        custom.insert("cf_notes".into(), vec![CustomValue::Text(r.pick(WORDS).into())]);
    }
    if r.chance(50) {
        let tags = (0..1 + r.below(2)).map(|_| CustomValue::Text(r.pick(&["vip", "partner"]).into()));
        custom.insert("cf_tags".into(), tags.collect());
    }
    if r.chance(40) {
        custom.insert("cf_owner".into(), vec![CustomValue::Text(r.pick(USERS).into())]);
    }
    let contacts = (0..r.below(4))
        .map(|_| Contact {
            name: r.maybe(80, &["John Smith", "Jane Doe", "Zoë Müller", "Jo Acme"]),
            title: r.maybe(60, &["CEO", "CTO", "VP Sales"]),
            emails: (0..r.below(3))
                .map(|_| r.pick(&["john@acme.com", "zoe@globex.de", "jo@cafe.fr"]).into())
                .collect(),
            phones: (0..r.below(3)).map(|_| r.pick(PHONES).into()).collect(),
            custom: if r.chance(40) {
                [(
                    "cf_role".to_string(),
                    vec![CustomValue::Text(r.pick(&["Buyer", "Champion"]).into())],
                )]
                .into()
            } else {
                Default::default()
            },
        })
        .collect();
    let activities = (0..r.below(8))
        .map(|_| {
            let kind = match r.below(7) {
                0 => ActivityKind::Note {
                    body: r.maybe(90, WORDS),
                },
                1 => ActivityKind::Call {
                    duration: r.chance(80).then(|| r.below(900) as i64),
                    direction: r.maybe(90, DIRECTIONS),
                    status: r.maybe(70, &["completed", "no-answer"]),
                    note: r.maybe(50, WORDS),
                },
                2 => ActivityKind::Email {
                    subject: r.maybe(80, WORDS),
                    body: r.maybe(80, WORDS),
                    direction: r.maybe(90, &["incoming", "outgoing"]),
                    status: r.maybe(90, &["sent", "draft", "inbox"]),
                    opens: (0..r.below(3)).map(|_| when(r)).collect(),
                },
                3 => ActivityKind::Sms {
                    body: r.maybe(80, WORDS),
                    direction: r.maybe(80, &["inbound", "outbound"]),
                },
                4 => ActivityKind::Meeting {
                    title: r.maybe(80, WORDS),
                },
                5 => ActivityKind::Chat {
                    body: r.maybe(80, WORDS),
                    status: r.maybe(60, &["open", "resolved"]),
                    assignee: r.maybe(50, USERS),
                },
                _ => ActivityKind::StatusChange {
                    old_status: r.maybe(50, STATUSES),
                    new_status: r.maybe(50, STATUSES),
                },
            };
            Activity {
                activity_at: when(r),
                user: r.maybe(80, USERS),
                kind,
            }
        })
        .collect();
    let opportunities = (0..r.below(3))
        .map(|_| {
            let (label, status_type) = [
                ("Active", StatusType::Active),
                ("Won", StatusType::Won),
                ("Lost", StatusType::Lost),
            ][r.below(3)];
            Opportunity {
                status_label: label.into(),
                status_type,
                value_cents: r.chance(80).then(|| r.below(5_000_000) as i64),
                confidence: r.chance(70).then(|| r.below(101) as i64),
                close_date: r.chance(70).then(|| day(r)),
                user: r.maybe(70, USERS),
                note: r.maybe(50, WORDS),
                custom: if r.chance(40) {
                    [(
                        "cf_region".to_string(),
                        vec![CustomValue::Text(r.pick(&["West coast", "EMEA"]).into())],
                    )]
                    .into()
                } else {
                    Default::default()
                },
            }
        })
        .collect();
    let tasks = (0..r.below(3))
        .map(|_| Task {
            text: r.pick(WORDS).into(),
            due: match r.below(3) {
                0 => None,
                1 => Some(Due::Day(day(r))),
                _ => Some(Due::At(when(r))),
            },
            assignee: r.maybe(70, USERS),
            done: r.chance(40),
        })
        .collect();
    let created = when(r);
    Lead {
        id: format!("lead_{:03}", r.below(1000) * 1000 + i),
        name: r.maybe(
            90,
            &["Acme Corp", "Globex", "Initech", "Café Zoë", "acme", "Zeta", "Ünited"],
        ),
        description: r.maybe(50, WORDS),
        url: r.maybe(50, &["https://acme.com", "http://globex.de"]),
        status: r.maybe(90, STATUSES),
        created,
        // Few distinct values, so that ties are broken by the id.
        updated: created.max(now() - Duration::days(r.below(5) as i64)),
        created_by: r.maybe(80, USERS),
        updated_by: r.maybe(80, USERS),
        addresses: (0..r.below(3))
            .map(|_| Address {
                address_1: r.maybe(50, &["1 Market Street", "12 rue de Rivoli"]),
                city: r.maybe(80, CITIES),
                country: r.maybe(60, &["US", "FR", "BR"]),
                zipcode: r.maybe(50, &["94107", "75001"]),
                ..Default::default()
            })
            .collect(),
        contacts,
        activities,
        opportunities,
        tasks,
        custom,
        prepared: None,
    }
}

const OPS: &[&str] = &[":", "=", "!=", "<", "<=", ">", ">="];
const AGES: &[&str] = &[
    "\"3 days ago\"",
    "\"2 weeks ago\"",
    "today",
    "yesterday",
    "\"2024-05-01\"",
    "\"this month\"",
];

fn value_clause(r: &mut Random) -> String {
    let op = r.pick(OPS);
    let cmp = r.pick(&["<", "<=", ">", ">=", "=", "!="]);
    let age = r.pick(AGES);
    let word = r.pick(&[
        "acme",
        "ac",
        "\"acme corp\"",
        "pricing",
        "jo",
        "zoe",
        "cafe",
        "smith",
        "paris",
        "s",
        "415",
        "west",
        "ceo",
    ]);
    match r.below(31) {
        0 => word.to_string(),
        1 => format!("status{op}{}", r.pick(&["cold", "warm", "\"bad fit\"", "customer"]))
            .replace("<", ":")
            .replace(">", ":"),
        2 => format!("name:{word}"),
        3 => format!(
            "{}:{word}",
            r.pick(&["description", "city", "address", "url", "title", "contact_name"])
        ),
        4 => format!(
            "{} {cmp} {}",
            r.pick(&[
                "calls",
                "emails",
                "notes",
                "contacts",
                "opportunities",
                "tasks",
                "sms",
                "chats"
            ]),
            r.below(5)
        ),
        5 => format!(
            "{} {cmp} {age}",
            r.pick(&[
                "called",
                "emailed",
                "email_opened",
                "last_activity",
                "last_note",
                "chatted",
                "created",
                "updated"
            ])
        ),
        6 => format!(
            "{}:never",
            r.pick(&["called", "emailed", "email_opened", "last_meeting", "last_sms"])
        ),
        7 => format!("email:{}", r.pick(&["acme", "john@acme.com", "globex.de", "cafe"])),
        8 => format!(
            "phone:{}",
            r.pick(&[
                "415",
                "4155550123",
                "33",
                "+1 415",
                "9999",
                "5",
                "0123",
                "555",
                "23",
                "9",
                "00",
                // Across two phones of a contact: in neither.
                "0123331",
                "55550123"
            ])
        ),
        9 => format!(
            "has:{}",
            r.pick(&[
                "phone",
                "email",
                "url",
                "description",
                "address",
                "custom.Seats",
                "opportunity_value"
            ])
        ),
        10 => format!(
            "custom.Source{}{}",
            r.pick(&[":", "!="]),
            r.pick(&["web", "referral", "event"])
        ),
        11 => format!("custom.Seats {cmp} {}", r.below(500) as i64 - 20),
        12 => format!("custom.Renewal {cmp} {age}"),
        13 => format!("custom.Kickoff {cmp} {age}"),
        14 => format!("custom.Notes:{word}"),
        15 => format!("custom.Tags{}{}", r.pick(&[":", "!="]), r.pick(&["vip", "partner"])),
        16 => format!(
            "custom.Owner:{}",
            r.pick(&["me", "bob@rapport.test", "\"Chloé Martin\""])
        ),
        17 => format!(
            "call(duration {cmp} {}{})",
            r.below(900),
            if r.chance(50) {
                format!(" direction:{}", r.pick(DIRECTIONS))
            } else {
                String::new()
            }
        ),
        18 => format!("email(opened {cmp} {age})"),
        19 => format!(
            "{}({word})",
            r.pick(&[
                "note",
                "call",
                "email",
                "sms",
                "meeting",
                "chat",
                "task",
                "contact",
                "opportunity"
            ])
        ),
        20 => format!(
            "opportunity(status_type:{} value {cmp} {})",
            r.pick(&["won", "lost", "active"]),
            r.below(50_000)
        ),
        21 => format!("opportunity_value {cmp} {}", r.below(50_000)),
        22 => format!("task(done:{} due {cmp} {age})", r.pick(&["yes", "no"])),
        23 => format!(
            "contact(name:{word} {}title:{})",
            if r.chance(50) { "-" } else { "" },
            r.pick(&["ceo", "cto"])
        ),
        24 => format!(
            "{}(not user:{})",
            r.pick(&["call", "note", "email"]),
            r.pick(&["me", "bob@rapport.test"])
        ),
        25 => format!("contact(custom.Role:{})", r.pick(&["buyer", "champion"])),
        26 => format!(
            "opportunity(custom.Region:{})",
            r.pick(&["west", "emea", "\"west coast\""])
        ),
        27 => format!("{} {cmp} {age}", r.pick(&["opportunity_close", "task_due"])),
        28 => format!(
            "{}:{}",
            r.pick(&["created_by", "updated_by"]),
            r.pick(&["me", "bob@rapport.test"])
        ),
        // Every kind of activity keeps its date in one column: only the clause's kind
        // may count.
        29 => format!(
            "{}(date {cmp} {age}{})",
            r.pick(&["call", "email", "note", "sms", "meeting", "chat"]),
            if r.chance(50) {
                format!(" or {word}")
            } else {
                String::new()
            }
        ),
        _ => r
            .pick(&[
                "name:*",
                "status:*",
                "custom.Source:*",
                "custom.Tags:*",
                "called:*",
                "url:*",
                // Fields of labels and users, whose presence is their values' terms.
                "call(direction:*)",
                "-email(status:*)",
                "task(assignee:*)",
                "opportunity(user:*)",
                "call(direction != inbound)",
                "task(assignee != user_a)",
            ])
            .to_string(),
    }
}

fn clause(r: &mut Random, depth: usize) -> String {
    if depth >= 3 || r.chance(55) {
        return value_clause(r);
    }
    match r.below(4) {
        0 => format!("{} {}", clause(r, depth + 1), clause(r, depth + 1)),
        1 => format!("({} or {})", clause(r, depth + 1), clause(r, depth + 1)),
        2 => format!("not ({})", clause(r, depth + 1)),
        _ => format!("-{}", value_clause(r)),
    }
}

fn query(r: &mut Random) -> String {
    let mut q = clause(r, 0);
    if r.chance(40) {
        let key = r.pick(&[
            "name",
            "-name",
            "created",
            "-updated",
            "-calls",
            "last_called",
            "-last_activity",
            "status",
            "id",
            "custom.Seats",
            "-custom.Renewal",
            "custom.Owner",
            "description",
            "-opportunities",
        ]);
        q.push_str(&format!(" sort:{key}"));
        if r.chance(30) {
            q.push_str(" sort:-created");
        }
    }
    q
}

#[test]
fn the_index_returns_what_the_evaluator_accepts_in_its_order() {
    let cases: u64 = std::env::var("RAPPORT_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let first: u64 = std::env::var("RAPPORT_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let ctx = context();
    let text_fields: std::collections::BTreeSet<String> = ["cf_notes", "cf_region"].map(String::from).into();
    let mut resolved_queries = 0;
    for seed in first..first + cases {
        let mut r = Random::new(seed);
        let index = SearchIndex::in_memory().unwrap();
        let mut leads: Vec<Lead> = Vec::new();
        for i in 0..40 {
            let lead = lead(&mut r, i);
            index.upsert(ORG, &lead, &text_fields).unwrap();
            leads.push(lead);
            // Several segments, so results merge across them.
            if i % 13 == 12 {
                index.commit(i as i64).unwrap();
            }
        }
        // Replace some leads and delete others: old versions must not be found.
        for _ in 0..5 {
            let at = r.below(leads.len());
            let mut fresh = lead(&mut r, 1000);
            fresh.id = leads[at].id.clone();
            index.upsert(ORG, &fresh, &text_fields).unwrap();
            leads[at] = fresh;
        }
        let gone = leads.remove(r.below(leads.len()));
        index.delete(&gone.id).unwrap();
        // Another organization's leads are never found (lead ids are unique across
        // organizations, as the store makes them). Its leads are deleted and indexed
        // again, one of them fewer.
        let mut other = lead(&mut r, 2000);
        other.id = format!("other_{seed}");
        let mut other_gone = lead(&mut r, 2001);
        other_gone.id = format!("other_gone_{seed}");
        index.upsert("orga_other", &other_gone, &text_fields).unwrap();
        index.upsert("orga_other", &other, &text_fields).unwrap();
        index.commit(99).unwrap();
        index.delete_organization("orga_other").unwrap();
        index.add("orga_other", &other, &text_fields).unwrap();
        index.commit(100).unwrap();
        // A batch that failed is rolled back: what it added is never published.
        let mut stray = lead(&mut r, 3000);
        stray.id = format!("stray_{seed}");
        index.add(ORG, &stray, &text_fields).unwrap();
        index.rollback().unwrap();
        index.commit(101).unwrap();
        // Merged, deleted documents are gone for good: every object of a deleted lead
        // must have gone with it, or it would now belong to the next lead.
        if seed % 2 == 0 {
            index.merge_segments().unwrap();
        }

        for _ in 0..60 {
            let text = query(&mut r);
            let Ok(parsed) = rapport_query::parse(&text) else {
                continue;
            };
            let Ok(resolved) = rapport_query::resolve(&parsed, &ctx) else {
                continue;
            };
            resolved_queries += 1;
            let expected: Vec<&str> = rapport_query::search(&resolved, &leads)
                .iter()
                .map(|l| l.id.as_str())
                .collect();
            let hits = index.search(ORG, &resolved, 0, usize::MAX).unwrap();
            assert_eq!(
                hits.ids, expected,
                "seed {seed}: `{text}` gives other leads or another order than the evaluator"
            );
            assert_eq!(hits.total, expected.len(), "seed {seed}: `{text}` total");
            let page = index.search(ORG, &resolved, 3, 4).unwrap();
            let expected_page: Vec<&str> = expected.iter().skip(3).take(4).copied().collect();
            assert_eq!(page.ids, expected_page, "seed {seed}: `{text}` page 3..7");
            assert_eq!(page.total, expected.len());
            let count = index.search(ORG, &resolved, 0, 0).unwrap();
            assert_eq!((count.total, count.ids.len()), (expected.len(), 0));
        }
    }
    // The generator must keep producing queries the binder accepts.
    assert!(
        resolved_queries as u64 >= cases * 40,
        "only {resolved_queries} queries resolved"
    );
}

/// Pages deep into a result of many leads: the search keeps a bounded set of candidates
/// per segment and drops those that cannot be in the page (`search.rs`), which needs more
/// matches than the property test's leads.
#[test]
fn pages_of_many_leads_are_the_evaluators() {
    let ctx = context();
    let text_fields: std::collections::BTreeSet<String> = ["cf_notes", "cf_region"].map(String::from).into();
    let mut r = Random::new(7);
    let index = SearchIndex::in_memory().unwrap();
    let mut leads: Vec<Lead> = Vec::new();
    for i in 0..2000 {
        let lead = lead(&mut r, i);
        index.add(ORG, &lead, &text_fields).unwrap();
        leads.push(lead);
        if i % 700 == 699 {
            index.commit(i as i64).unwrap();
        }
    }
    index.commit(2000).unwrap();
    for text in [
        "",
        "sort:name",
        "sort:-name",
        "sort:-calls sort:name",
        "sort:custom.Seats",
        "sort:last_called",
        "sort:-created",
        "not status:cold sort:description",
        "acme",
        "not call(duration > 600) sort:-opportunities",
    ] {
        let resolved = rapport_query::resolve(&rapport_query::parse(text).unwrap(), &ctx).unwrap();
        let expected: Vec<&str> = rapport_query::search(&resolved, &leads)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert!(expected.len() > 1200, "`{text}` matches only {} leads", expected.len());
        for (skip, limit) in [(0, 25), (25, 25), (700, 100), (expected.len() - 10, 25)] {
            let page = index.search(ORG, &resolved, skip, limit).unwrap();
            let wanted: Vec<&str> = expected.iter().skip(skip).take(limit).copied().collect();
            assert_eq!(page.ids, wanted, "`{text}` page {skip}+{limit}");
            assert_eq!(page.total, expected.len(), "`{text}` total");
        }
    }
}
