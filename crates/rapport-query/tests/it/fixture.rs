//! The organization and the leads the tests search: one schema, eight hand-built leads.
//! `now` is Wednesday 2024-05-15 12:00 UTC.

use chrono::{DateTime, NaiveDate, Utc};
use rapport_query::{
    Activity, ActivityKind, Address, Contact, CustomField, CustomFieldObject, CustomFieldType, CustomValue, Due, Lead,
    Opportunity, OpportunityStatus, SavedView, SearchContext, StatusType, Task, User,
};

pub fn at(s: &str) -> DateTime<Utc> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        format!("{s}Z")
    };
    full.parse().unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn context() -> SearchContext {
    context_at("2024-05-15T12:00:00", 0.0)
}

pub fn context_at(now: &str, tz_offset_hours: f64) -> SearchContext {
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
    SearchContext {
        custom_fields: vec![
            custom(
                "cf_src",
                "Lead Source",
                T::Choices,
                O::Lead,
                &["Web", "Referral", "Event"],
                false,
            ),
            custom("cf_size", "Employees", T::Number, O::Lead, &[], false),
            custom("cf_renew", "Renewal Date", T::Date, O::Lead, &[], false),
            custom("cf_kick", "Kickoff", T::Datetime, O::Lead, &[], false),
            custom("cf_notes", "Internal Notes", T::Text, O::Lead, &[], false),
            custom(
                "cf_tags",
                "Tags",
                T::Choices,
                O::Lead,
                &["vip", "partner", "churn-risk"],
                true,
            ),
            custom("cf_owner", "Account Owner", T::User, O::Lead, &[], false),
            custom(
                "cf_role",
                "Role",
                T::Choices,
                O::Contact,
                &["Buyer", "Champion", "Blocker"],
                false,
            ),
            custom("cf_region", "Region", T::Text, O::Opportunity, &[], false),
        ],
        lead_statuses: ["Potential", "Cold", "Warm", "Customer", "Bad Fit"]
            .map(String::from)
            .to_vec(),
        opportunity_statuses: vec![
            OpportunityStatus {
                label: "Active".into(),
                status_type: StatusType::Active,
            },
            OpportunityStatus {
                label: "Demo Scheduled".into(),
                status_type: StatusType::Active,
            },
            OpportunityStatus {
                label: "Won".into(),
                status_type: StatusType::Won,
            },
            OpportunityStatus {
                label: "Lost".into(),
                status_type: StatusType::Lost,
            },
        ],
        users: vec![
            user("u_ann", "Ann Lee", "ann@rapport.test"),
            user("u_bob", "Bob Stone", "bob@rapport.test"),
            user("u_cho", "Chloé Martin", "chloe@rapport.test"),
        ],
        saved_views: vec![
            view("v_cold", "Cold Leads", "status:cold"),
            view("v_big", "Big Deals", "opportunity_value >= 10000 sort:-created"),
            view("v_a", "Loop A", "in:v_b"),
            view("v_b", "Loop B", "in:\"Loop A\""),
            view("v_dup1", "Dupe", "acme"),
            view("v_dup2", "dupe", "globex"),
            view("v_broken", "Broken", "staus:cold"),
            view("v_nested", "Cold and big", "in:v_cold in:\"big deals\""),
        ],
        current_user_id: Some("u_ann".into()),
        now: at(now),
        tz_offset_hours,
    }
}

fn user(id: &str, name: &str, email: &str) -> User {
    User {
        id: id.into(),
        full_name: name.into(),
        email: email.into(),
    }
}

fn view(id: &str, name: &str, query: &str) -> SavedView {
    SavedView {
        id: id.into(),
        name: name.into(),
        query: query.into(),
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn contact(name: &str, title: &str, emails: &[&str], phones: &[&str]) -> Contact {
    Contact {
        name: some(name),
        title: some(title),
        emails: emails.iter().map(|e| e.to_string()).collect(),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    }
}

fn activity(when: &str, user: Option<&str>, kind: ActivityKind) -> Activity {
    Activity {
        activity_at: at(when),
        user: user.map(String::from),
        kind,
    }
}

fn call(when: &str, user: &str, duration: i64, direction: &str, status: &str, note: Option<&str>) -> Activity {
    let kind = ActivityKind::Call {
        duration: Some(duration),
        direction: some(direction),
        status: some(status),
        note: note.map(String::from),
    };
    activity(when, Some(user), kind)
}

fn email(when: &str, subject: &str, body: &str, direction: &str, status: &str, opens: &[&str]) -> Activity {
    let kind = ActivityKind::Email {
        subject: some(subject),
        body: some(body),
        direction: some(direction),
        status: some(status),
        opens: opens.iter().map(|t| at(t)).collect(),
    };
    activity(when, Some("u_ann"), kind)
}

fn opportunity(
    status: &str,
    status_type: StatusType,
    cents: i64,
    confidence: i64,
    close: Option<&str>,
    user: &str,
) -> Opportunity {
    Opportunity {
        status_label: status.into(),
        status_type,
        value_cents: Some(cents),
        confidence: Some(confidence),
        close_date: close.map(day),
        user: some(user),
        note: None,
        custom: Default::default(),
    }
}

fn task(text: &str, due: Option<Due>, assignee: &str, done: bool) -> Task {
    Task {
        text: text.into(),
        due,
        assignee: some(assignee),
        done,
    }
}

fn text(s: &str) -> Vec<CustomValue> {
    vec![CustomValue::Text(s.into())]
}

/// The leads, in id order: Acme, Globex, Initech, Société, Umbrella, Jean-Pierre, York, (no name).
pub fn leads() -> Vec<Lead> {
    let acme = Lead {
        id: "lead_01".into(),
        name: some("Acme Corp"),
        description: some("Maker of anvils and rockets"),
        url: some("https://www.acme.com"),
        status: some("Cold"),
        created: at("2024-01-10T09:00:00"),
        updated: at("2024-05-14T10:00:00"),
        created_by: some("u_ann"),
        updated_by: some("u_bob"),
        addresses: vec![Address {
            address_1: some("1 Market Street"),
            city: some("San Francisco"),
            state: some("CA"),
            zipcode: some("94107"),
            country: some("US"),
            ..Default::default()
        }],
        contacts: vec![
            Contact {
                custom: [("cf_role".to_string(), text("Buyer"))].into(),
                ..contact("John Smith", "CEO", &["john@acme.com"], &["+14155550123"])
            },
            contact("Jane Doe", "CTO", &["jane.doe@acme.com"], &[]),
        ],
        activities: vec![
            call(
                "2024-05-14T10:00:00",
                "u_ann",
                300,
                "outbound",
                "completed",
                Some("Discussed pricing for anvils"),
            ),
            email(
                "2024-05-13T16:00:00",
                "Proposal for rockets",
                "Please find attached",
                "outgoing",
                "sent",
                &["2024-05-14T09:00:00"],
            ),
            activity(
                "2024-05-01T08:00:00",
                Some("u_ann"),
                ActivityKind::Note {
                    body: some("Prefers email"),
                },
            ),
        ],
        opportunities: vec![Opportunity {
            note: some("big anvil deal"),
            custom: [("cf_region".to_string(), text("West coast"))].into(),
            ..opportunity("Won", StatusType::Won, 1_234_550, 100, Some("2024-05-10"), "u_ann")
        }],
        tasks: vec![task("Send contract", Some(Due::Day(day("2024-05-20"))), "u_ann", false)],
        custom: [
            ("cf_src".to_string(), text("Web")),
            ("cf_size".to_string(), vec![CustomValue::Number(250.0)]),
            ("cf_renew".to_string(), vec![CustomValue::Date(day("2024-06-01"))]),
            (
                "cf_tags".to_string(),
                vec![CustomValue::Text("vip".into()), CustomValue::Text("partner".into())],
            ),
            ("cf_owner".to_string(), text("u_bob")),
            ("cf_notes".to_string(), text("loves coyotes")),
        ]
        .into(),
        prepared: None,
    };
    let globex = Lead {
        id: "lead_02".into(),
        name: some("Globex"),
        status: some("Warm"),
        created: at("2023-11-20T12:00:00"),
        updated: at("2024-05-10T12:00:00"),
        created_by: some("u_bob"),
        addresses: vec![Address {
            city: some("London"),
            country: some("GB"),
            ..Default::default()
        }],
        contacts: vec![contact(
            "Hank Scorpio",
            "Founder",
            &["hank@globex.example"],
            &["+442071234567"],
        )],
        activities: vec![
            call("2024-04-01T15:00:00", "u_bob", 30, "inbound", "no-answer", None),
            email("2024-05-15T09:00:00", "Draft follow up", "", "outgoing", "draft", &[]),
            activity(
                "2024-05-10T11:00:00",
                Some("u_bob"),
                ActivityKind::Sms {
                    body: some("See you at the demo"),
                    direction: some("inbound"),
                },
            ),
            activity(
                "2024-05-16T15:00:00",
                Some("u_bob"),
                ActivityKind::Meeting {
                    title: some("Demo with Hank"),
                },
            ),
            activity(
                "2024-05-02T10:00:00",
                Some("u_bob"),
                ActivityKind::StatusChange {
                    old_status: some("Cold"),
                    new_status: some("Warm"),
                },
            ),
        ],
        opportunities: vec![
            opportunity(
                "Demo Scheduled",
                StatusType::Active,
                500_000,
                40,
                Some("2024-06-30"),
                "u_bob",
            ),
            opportunity("Lost", StatusType::Lost, 100_000, 0, Some("2024-02-01"), "u_bob"),
        ],
        custom: [
            ("cf_src".to_string(), text("Referral")),
            ("cf_size".to_string(), vec![CustomValue::Number(5000.0)]),
            ("cf_tags".to_string(), text("churn-risk")),
        ]
        .into(),
        ..Default::default()
    };
    let initech = Lead {
        id: "lead_03".into(),
        name: some("Initech"),
        status: some("Potential"),
        created: at("2024-05-15T08:00:00"),
        updated: at("2024-05-15T08:00:00"),
        created_by: some("u_cho"),
        contacts: vec![contact("Peter Gibbons", "Engineer", &["peter@initech.com"], &[])],
        tasks: vec![
            task("Call Peter", Some(Due::At(at("2024-05-10T09:00:00"))), "u_cho", false),
            task("Old task", Some(Due::Day(day("2024-05-01"))), "u_cho", true),
        ],
        custom: [("cf_size".to_string(), vec![CustomValue::Number(100.0)])].into(),
        ..Default::default()
    };
    let societe = Lead {
        id: "lead_04".into(),
        name: some("Société Générale Café"),
        description: some("Crème brûlée supplier"),
        status: some("Customer"),
        created: at("2022-06-01T00:00:00"),
        updated: at("2024-03-01T10:00:00"),
        addresses: vec![Address {
            city: some("Paris"),
            country: some("FR"),
            ..Default::default()
        }],
        contacts: vec![contact(
            "Éric Dupont",
            "Directeur",
            &["eric@cafe.fr"],
            &["+33142685300"],
        )],
        activities: vec![
            activity(
                "2024-05-12T14:00:00",
                Some("u_cho"),
                ActivityKind::Chat {
                    body: some("Bonjour, any update?"),
                    status: some("open"),
                    assignee: some("u_cho"),
                },
            ),
            activity(
                "2024-03-01T10:00:00",
                Some("u_cho"),
                ActivityKind::Note {
                    body: some("Met at the New York expo"),
                },
            ),
        ],
        custom: [
            ("cf_src".to_string(), text("Event")),
            (
                "cf_kick".to_string(),
                vec![CustomValue::DateTime(at("2024-05-14T23:30:00"))],
            ),
        ]
        .into(),
        ..Default::default()
    };
    let umbrella = Lead {
        id: "lead_05".into(),
        name: some("Umbrella"),
        status: some("Bad Fit"),
        created: at("2021-01-01T00:00:00"),
        updated: at("2021-01-01T00:00:00"),
        ..Default::default()
    };
    let jean_pierre = Lead {
        id: "lead_06".into(),
        name: some("Jean-Pierre & Fils"),
        status: some("Cold"),
        created: at("2024-02-02T00:00:00"),
        updated: at("2024-05-08T12:00:00"),
        contacts: vec![contact(
            "Jean-Pierre Martin",
            "Owner",
            &["jp@fils.example"],
            &["+14155559999"],
        )],
        activities: vec![
            call(
                "2024-05-08T12:00:00",
                "u_bob",
                1200,
                "outbound",
                "completed",
                Some("Long call about York pricing"),
            ),
            email(
                "2024-04-20T10:00:00",
                "New offer",
                "new York office opening",
                "incoming",
                "inbox",
                &[],
            ),
        ],
        opportunities: vec![Opportunity {
            close_date: None,
            ..opportunity("Active", StatusType::Active, 250_000, 60, None, "u_cho")
        }],
        custom: [
            ("cf_renew".to_string(), vec![CustomValue::Date(day("2024-05-15"))]),
            ("cf_owner".to_string(), text("u_ann")),
        ]
        .into(),
        ..Default::default()
    };
    let york = Lead {
        id: "lead_07".into(),
        name: some("York Industries"),
        description: some("new offices in york"),
        status: some("Warm"),
        created: at("2024-03-15T00:00:00"),
        updated: at("2024-05-13T09:00:00"),
        addresses: vec![Address {
            address_1: some("New Road"),
            city: some("York"),
            country: some("GB"),
            ..Default::default()
        }],
        contacts: vec![contact("Amy Wong", "VP Sales", &["amy@york.example"], &[])],
        activities: vec![
            activity(
                "2024-05-13T09:00:00",
                Some("u_bob"),
                ActivityKind::Meeting {
                    title: some("Quarterly review"),
                },
            ),
            email(
                "2024-05-09T10:00:00",
                "Re: pricing",
                "",
                "outgoing",
                "sent",
                &["2024-05-10T08:00:00", "2024-05-12T20:00:00"],
            ),
        ],
        tasks: vec![task(
            "Prepare QBR deck",
            Some(Due::Day(day("2024-05-14"))),
            "u_bob",
            false,
        )],
        ..Default::default()
    };
    let nameless = Lead {
        id: "lead_08".into(),
        created: at("2024-05-01T00:00:00"),
        updated: at("2024-05-02T00:00:00"),
        ..Default::default()
    };
    vec![acme, globex, initech, societe, umbrella, jean_pierre, york, nameless]
}

/// A lead's name for expectations; the nameless lead is `-`.
pub fn name(lead: &Lead) -> &str {
    lead.name.as_deref().unwrap_or("-")
}
