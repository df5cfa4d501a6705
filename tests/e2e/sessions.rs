//! People in the web app: password logins with a session cookie, the CSRF token every
//! cookie-authenticated write must echo, the Origin check, users added by admins, one's
//! own API keys and drafts. Each test runs on SQLite and on PostgreSQL.

use crate::common;

use common::ws::{Refused, Socket};
use common::{Answer, Backend, TestServer};
use rapport_testkit::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(blocking:
    login_sets_a_session_that_writes_only_with_its_csrf_token,
    admins_add_users_and_everyone_keeps_their_own_api_keys,
    drafts_are_private_to_their_author,
    the_realtime_socket_takes_the_session_from_the_apps_own_pages_only,
    failed_logins_are_throttled_per_email,
    an_admin_cannot_take_over_another_organizations_account,
    admins_manage_the_team_and_members_work_the_data,
    an_organization_keeps_at_least_one_admin,
    everyone_changes_their_own_name_and_password,
    revoking_a_credential_closes_its_open_sockets,
    a_forgotten_password_is_reset_through_a_single_use_emailed_link,
    one_address_is_limited_whatever_email_it_tries,
);

/// Password spraying from one address: past the address's allowance, every login is
/// refused (whatever the email) while other addresses log in as usual.
fn one_address_is_limited_whatever_email_it_tries(backend: Backend) {
    let Some(s) = TestServer::start(backend, "logins_per_address") else {
        return;
    };
    add_user(&s, "ann@test.example", "Ann");
    let sprayer = "192.0.2.7";
    let burst = rapport_crm::limits::LOGINS.burst as usize;
    for i in 0..burst {
        let answer = login_from(&s, sprayer, &format!("user{i}@test.example"), "Winter2026!");
        assert_eq!(answer.status, 401, "attempt {i}: {}", answer.body);
    }
    let refused = login_from(&s, sprayer, "ann@test.example", PASSWORD);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body["error"].as_str().unwrap().contains("from your address"),
        "{}",
        refused.body
    );
    assert!(refused.header("retry-after").is_some());
    assert_eq!(login_from(&s, "192.0.2.8", "ann@test.example", PASSWORD).status, 200);
}

/// "Forgot password": the same answer for any email, a link by email to the account's
/// owner that works once, and sessions that end with the old password.
fn a_forgotten_password_is_reset_through_a_single_use_emailed_link(backend: Backend) {
    let Some(smtp) = rapport_testkit::smtp::SmtpServer::start("password_reset") else {
        return;
    };
    let smtp_url = format!(
        "smtp://127.0.0.1:{}?security=none&from=rapport%40test.example",
        smtp.port
    );
    let args = [
        "--smtp-url",
        smtp_url.as_str(),
        "--public-url",
        "https://crm.test.example",
    ];
    let Some(s) = TestServer::start_with(backend, "password_reset", &args) else {
        return;
    };
    add_user(&s, "ann@test.example", "Ann");
    let browser = Browser::login(&s, "ann@test.example");
    let ask = |email: &str| {
        let address = common::fresh_client_address();
        s.request(
            "POST",
            "auth/password_reset/",
            None,
            Some(&json!({"email": email})),
            &[("Host", "evil.example"), (common::CLIENT_IP_HEADER, &address)],
        )
    };
    let known = ask("Ann@test.example");
    let unknown = ask("nobody@test.example");
    assert_eq!(
        (known.status, unknown.status),
        (202, 202),
        "{} {}",
        known.body,
        unknown.body
    );
    assert_eq!(known.body, unknown.body, "nobody learns which emails have accounts");
    assert_eq!(ask("not an email").status, 400);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let message = loop {
        if let Some(m) = smtp.messages().into_iter().find(|m| m.contains("ann@test.example")) {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "no reset email: {}", smtp.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(!smtp.messages().iter().any(|m| m.contains("nobody@test.example")));
    // Quoted-printable bodies wrap long lines with a trailing `=`.
    let message = message.replace("=\r\n", "").replace("=\n", "");
    let link = message
        .split_whitespace()
        .find(|w| w.contains("/#/reset-password/"))
        .expect("a link in the email")
        .to_string();
    assert!(
        link.starts_with("https://crm.test.example/"),
        "the configured address, never the request's Host: {link}"
    );
    let token = link.rsplit('/').next().unwrap().trim();

    let confirm = |token: &str, password: &str| {
        s.request(
            "POST",
            "auth/password_reset/confirm/",
            None,
            Some(&json!({"token": token, "password": password})),
            &[],
        )
    };
    let short = confirm(token, "short");
    assert!(short.body["field-errors"]["password"].is_string(), "{}", short.body);
    assert_eq!(confirm("reset_forged", "a brand new password").status, 400);
    assert_eq!(confirm(token, "a brand new password").status, 204);
    assert_eq!(login(&s, "ann@test.example", "a brand new password").status, 200);
    assert_eq!(login(&s, "ann@test.example", PASSWORD).status, 401);
    assert_eq!(browser.send("GET", "me/", None).status, 401, "old sessions ended");
    let again = confirm(token, "yet another password");
    assert_eq!(again.status, 400, "used once: {}", again.body);
    assert!(again.body["field-errors"]["token"].is_string());
    // A mailbox is not flooded: a few links per hour, then silence (the same answer).
    for _ in 0..rapport_crm::RESETS_PER_HOUR + 2 {
        assert_eq!(ask("ann@test.example").status, 202);
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sent = smtp
        .messages()
        .iter()
        .filter(|m| m.contains("ann@test.example"))
        .count() as i64;
    assert_eq!(
        sent,
        1 + rapport_crm::RESETS_PER_HOUR,
        "the used link no longer counts; then the cap"
    );
}

/// A deleted API key, a logout, a password change and a removal each close the sockets
/// that credential opened, within a second or two; other sockets stay.
fn revoking_a_credential_closes_its_open_sockets(backend: Backend) {
    let Some(s) = TestServer::start(backend, "revocation_closes_sockets") else {
        return;
    };
    let open = |headers: &[(&str, &str)]| {
        let mut socket =
            Socket::connect(&s.base, "/api/v1/realtime", headers).unwrap_or_else(|Refused(status)| panic!("{status}"));
        socket.wait_for(10, "hello", |f| f["type"] == "hello");
        socket
    };
    let revoked = |socket: &mut Socket, what: &str| {
        assert!(socket.closes_within(5), "{what} closes the socket");
        assert_eq!(socket.close_code, Some(4401), "{what}");
    };
    let mut admin = Socket::operator(&s.base, &s.api_key, None);
    admin.wait_for(10, "hello", |f| f["type"] == "hello");

    // A deleted API key.
    let key = s.post("api_key/", json!({"name": "script"})).ok();
    let mut by_key = Socket::operator(&s.base, key["key"].as_str().unwrap(), None);
    by_key.wait_for(10, "hello", |f| f["type"] == "hello");
    assert_eq!(
        s.delete(&format!("api_key/{}/", key["id"].as_str().unwrap())).status,
        204
    );
    revoked(&mut by_key, "deleting the key");

    // A logout, and a password change (which ends every session of the user).
    let ann = add_user(&s, "ann@test.example", "Ann");
    let browser = Browser::login(&s, "ann@test.example");
    let mut by_cookie = open(&[("Cookie", &browser.cookie), ("Origin", &s.base)]);
    assert_eq!(browser.send("POST", "auth/logout/", Some(json!({}))).status, 204);
    revoked(&mut by_cookie, "logging out");
    let browser = Browser::login(&s, "ann@test.example");
    let mut by_cookie = open(&[("Cookie", &browser.cookie), ("Origin", &s.base)]);
    let change = browser.send(
        "POST",
        "me/password/",
        Some(json!({"current_password": PASSWORD, "password": "another password"})),
    );
    assert_eq!(change.status, 204, "{}", change.body);
    revoked(&mut by_cookie, "changing the password");

    // Removal from the organization.
    let mia = s.new_member("mia@test.example", "member");
    let mut by_member = Socket::operator(&s.base, &mia, None);
    by_member.wait_for(10, "hello", |f| f["type"] == "hello");
    let mia_id = s.get_as(&mia, "me/").ok()["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("user/{mia_id}/")).status, 204);
    revoked(&mut by_member, "removing the member");

    // The admin's own socket lives on.
    let lead = s.post("lead/", json!({"name": "Still live"})).ok();
    admin.wait_for(10, "the admin's socket still works", |f| {
        f["type"] == "lead.created" && f["data"]["object_id"] == lead["id"]
    });
    let _ = ann;
}

const PASSWORD: &str = "correct horse battery";

/// A user who logs in with `PASSWORD`, added by the admin.
fn add_user(s: &TestServer, email: &str, first_name: &str) -> Value {
    s.post(
        "user/",
        json!({"email": email, "first_name": first_name, "last_name": "Test", "password": PASSWORD}),
    )
    .ok()
}

/// A browser's login: the session cookie (`name=value`) and the CSRF token.
struct Browser<'a> {
    server: &'a TestServer,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    fn login(server: &'a TestServer, email: &str) -> Browser<'a> {
        let answer = login(server, email, PASSWORD);
        assert_eq!(answer.status, 200, "login: {}", answer.body);
        let set_cookie = answer.header("set-cookie").expect("a session cookie").to_string();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        assert!(cookie.starts_with("rapport_session=sess_"), "{cookie}");
        let csrf = answer.body["csrf_token"].as_str().unwrap().to_string();
        assert_eq!(answer.body["user"]["email"], email.trim().to_lowercase().as_str());
        Browser { server, cookie, csrf }
    }

    /// A request as the app sends it: the cookie, the CSRF token, the app's marker.
    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send_with(method, path, body, &[("X-CSRF-Token", &self.csrf)])
    }

    fn send_with(&self, method: &str, path: &str, body: Option<Value>, extra: &[(&str, &str)]) -> Answer {
        let mut headers = vec![("Cookie", self.cookie.as_str()), ("X-Requested-With", "rapport-web")];
        headers.extend_from_slice(extra);
        self.server.request(method, path, None, body.as_ref(), &headers)
    }
}

/// A login from an address of its own (the per-address limit is tested on its own).
fn login(s: &TestServer, email: &str, password: &str) -> Answer {
    login_from(s, &common::fresh_client_address(), email, password)
}

fn login_from(s: &TestServer, address: &str, email: &str, password: &str) -> Answer {
    s.request(
        "POST",
        "auth/login/",
        None,
        Some(&json!({"email": email, "password": password})),
        &[(common::CLIENT_IP_HEADER, address)],
    )
}

const FAILURES_ALLOWED: usize = rapport_crm::LOGIN_FAILURES_ALLOWED as usize;

fn failed_logins_are_throttled_per_email(backend: Backend) {
    let Some(s) = TestServer::start(backend, "failed_logins_throttled") else {
        return;
    };
    add_user(&s, "joe@test.example", "Joe");
    add_user(&s, "ann@test.example", "Ann");
    // A success clears the failures before it: a user who mistypes now and then is never
    // locked out.
    for _ in 0..FAILURES_ALLOWED - 1 {
        assert_eq!(login(&s, "joe@test.example", "wrong").status, 401);
    }
    assert_eq!(login(&s, "Joe@Test.example ", PASSWORD).status, 200);
    for attempt in 1..=FAILURES_ALLOWED {
        let answer = login(&s, "joe@test.example", "wrong");
        assert_eq!(
            answer.status, 401,
            "failure {attempt} is still answered: {}",
            answer.body
        );
    }
    // Past the limit even the right password is refused, unchecked, with the wait; the
    // email is matched as logins match it.
    for email in ["joe@test.example", " JOE@test.example"] {
        let refused = login(&s, email, PASSWORD);
        assert_eq!(refused.status, 429, "{}", refused.body);
        let wait: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
        let window = rapport_crm::LOGIN_WINDOW_SECONDS as u64;
        assert!((1..=window).contains(&wait), "a wait within the window: {wait}");
        let message = refused.body["error"].as_str().unwrap();
        assert!(message.contains("too many failed logins"), "{message}");
        let rate = refused.header("ratelimit").expect("RateLimit");
        assert!(
            rate.starts_with(&format!("limit={FAILURES_ALLOWED}, remaining=0")),
            "{rate}"
        );
    }
    // Other users log in as usual.
    assert_eq!(login(&s, "ann@test.example", PASSWORD).status, 200);
    // Unknown emails are counted alike (an attacker cannot tell them from users).
    for _ in 0..FAILURES_ALLOWED {
        assert_eq!(login(&s, "nobody@test.example", "wrong").status, 401);
    }
    assert_eq!(login(&s, "nobody@test.example", "wrong").status, 429);
    // Bad input is a 400 and not an attempt: a flood of it leaves Ann's count as it was.
    for _ in 0..FAILURES_ALLOWED + 1 {
        assert_eq!(login(&s, "ann@test.example", "").status, 400);
    }
    assert_eq!(login(&s, "ann@test.example", "wrong").status, 401);
    // An email of any length is counted alike (it is stored hashed).
    let long = format!("{}@test.example", "x".repeat(5_000));
    assert_eq!(login(&s, &long, "wrong").status, 401);
}

fn lead_count(s: &TestServer) -> u64 {
    s.get("lead/?_limit=0").ok()["total_results"].as_u64().unwrap()
}

fn login_sets_a_session_that_writes_only_with_its_csrf_token(backend: Backend) {
    let Some(s) = TestServer::start(backend, "login_sets_a_session") else {
        return;
    };
    let ann = add_user(&s, "ann@test.example", "Ann");

    // Wrong password and unknown email: the same answer, and no browser password dialog.
    let wrong = login(&s, "ann@test.example", "wrong password");
    let unknown = login(&s, "nobody@test.example", PASSWORD);
    for answer in [&wrong, &unknown] {
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.body["error"], "wrong email or password");
        assert!(answer.header("www-authenticate").is_none());
        assert!(answer.header("set-cookie").is_none());
    }
    let missing = s.request("POST", "auth/login/", None, Some(&json!({"email": ""})), &[]);
    assert_eq!(missing.status, 400);
    assert!(missing.body["field-errors"]["password"].is_string(), "{}", missing.body);

    let browser = Browser::login(&s, "ANN@test.example ");
    let me = browser.send("GET", "me/", None).ok();
    assert_eq!(me["id"], ann["id"]);
    assert_eq!(
        me["csrf_token"],
        browser.csrf.as_str(),
        "the app reads the token after a reload"
    );

    // A write without the token, or with another one, is refused and stores nothing.
    let before = lead_count(&s);
    let lead = json!({"name": "Cookie Corp"});
    let bare = browser.send_with("POST", "lead/", Some(lead.clone()), &[]);
    assert_eq!(bare.status, 403, "{}", bare.body);
    assert!(
        bare.body["error"].as_str().unwrap().contains("X-CSRF-Token")
            || bare.body["error"].as_str().unwrap().contains("x-csrf-token")
    );
    let forged = browser.send_with("POST", "lead/", Some(lead.clone()), &[("X-CSRF-Token", "csrf_guess")]);
    assert_eq!(forged.status, 403);
    // Another site's page, even with the token (it cannot read it, but still): refused.
    let cross = browser.send_with(
        "POST",
        "lead/",
        Some(lead.clone()),
        &[("X-CSRF-Token", &browser.csrf), ("Origin", "http://evil.example")],
    );
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert_eq!(lead_count(&s), before, "nothing was stored");

    let origin = s.base.clone();
    let created = browser.send_with(
        "POST",
        "lead/",
        Some(lead),
        &[("X-CSRF-Token", &browser.csrf), ("Origin", &origin)],
    );
    let created = created.ok();
    assert_eq!(created["created_by"], ann["id"], "the write is Ann's");
    assert_eq!(lead_count(&s), before + 1);

    // Without credentials: the app's requests get a plain 401, others the Basic challenge.
    let app = s.request("GET", "me/", None, None, &[("X-Requested-With", "rapport-web")]);
    assert_eq!(app.status, 401);
    assert!(app.header("www-authenticate").is_none());
    let program = s.request("GET", "me/", None, None, &[]);
    assert_eq!(program.status, 401);
    assert!(program.header("www-authenticate").is_some());

    // Logging out ends this session only.
    let other = Browser::login(&s, "ann@test.example");
    let out = browser.send("POST", "auth/logout/", None);
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = browser.send("GET", "me/", None);
    assert_eq!(after.status, 401);
    assert_eq!(after.body["error"], "the session has ended; log in again");
    assert_eq!(other.send("GET", "me/", None).ok()["id"], ann["id"]);
}

fn admins_add_users_and_everyone_keeps_their_own_api_keys(backend: Backend) {
    let Some(s) = TestServer::start(backend, "admins_add_users") else {
        return;
    };
    // Bad input names its fields; members may not add users.
    let short = s.post("user/", json!({"email": "bo@test.example", "password": "short"}));
    assert_eq!(short.status, 400);
    assert!(short.body["field-errors"]["password"].is_string(), "{}", short.body);
    let bad_email = s.post("user/", json!({"email": "not an email", "password": PASSWORD}));
    assert_eq!(bad_email.status, 400);
    assert!(
        bad_email.body["field-errors"]["email"].is_string(),
        "{}",
        bad_email.body
    );
    let member_key = s.new_member("mia@test.example", "member");
    let refused = s.post_as(
        &member_key,
        "user/",
        json!({"email": "bo@test.example", "password": PASSWORD}),
    );
    assert_eq!(refused.status, 403);
    assert_eq!(s.get("user/").ok()["total_results"], 2);

    let bo = add_user(&s, "bo@test.example", "Bo");
    assert_eq!(bo["role"], "member");
    assert_eq!(s.get("user/").ok()["total_results"], 3);
    let again = s.post("user/", json!({"email": "bo@test.example", "password": PASSWORD}));
    assert_eq!(again.status, 400, "{}", again.body);

    // Bo makes a key in the app: shown once, listed by name, works, and can be revoked.
    let browser = Browser::login(&s, "bo@test.example");
    let nameless = browser.send("POST", "api_key/", Some(json!({"name": " "})));
    assert_eq!(nameless.status, 400);
    let made = browser.send("POST", "api_key/", Some(json!({"name": "Zapier"}))).ok();
    let key = made["key"].as_str().unwrap().to_string();
    assert_eq!(s.get_as(&key, "me/").ok()["id"], bo["id"]);
    let listed = browser.send("GET", "api_key/", None).ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["name"], "Zapier");
    assert!(!listed.to_string().contains(&key), "a key is never listed");
    // The admin's keys are not Bo's.
    let admin_keys = s.get("api_key/").ok();
    let admin_key_id = admin_keys["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(admin_keys["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        browser.send("DELETE", &format!("api_key/{admin_key_id}/"), None).status,
        404
    );
    let revoked = browser.send("DELETE", &format!("api_key/{}/", made["id"].as_str().unwrap()), None);
    assert_eq!(revoked.status, 204);
    assert_eq!(s.get_as(&key, "me/").status, 401);
    assert_eq!(s.get("me/").status, 200, "the admin's key still works");
}

fn drafts_are_private_to_their_author(backend: Backend) {
    let Some(s) = TestServer::start(backend, "drafts_are_private") else {
        return;
    };
    add_user(&s, "ann@test.example", "Ann");
    let laptop = Browser::login(&s, "ann@test.example");
    let phone = Browser::login(&s, "ann@test.example");
    assert_eq!(laptop.send("GET", "draft/note:lead_1/", None).status, 404);
    let saved = laptop
        .send(
            "PUT",
            "draft/note:lead_1/",
            Some(json!({"body": "Called, wants a quote"})),
        )
        .ok();
    assert_eq!(saved["key"], "note:lead_1");
    laptop
        .send(
            "PUT",
            "draft/note:lead_1/",
            Some(json!({"body": "Called, wants a quote by Friday"})),
        )
        .ok();
    laptop
        .send("PUT", "draft/reply:conv_1/", Some(json!({"body": "Hi!"})))
        .ok();

    // The other device sees the latest text; the list has both, newest first.
    let read = phone.send("GET", "draft/note:lead_1/", None).ok();
    assert_eq!(read["body"], "Called, wants a quote by Friday");
    let listed = phone.send("GET", "draft/", None).ok();
    let keys: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["reply:conv_1", "note:lead_1"]);

    // Another user (the admin) sees none of them.
    assert_eq!(s.get("draft/note:lead_1/").status, 404);
    assert_eq!(s.get("draft/").ok()["total_results"], 0);

    // Bad input is refused and changes nothing.
    let too_long = "x".repeat(rapport_crm::MAX_DRAFT_CHARS + 1);
    for bad in [
        json!({"body": too_long}),
        json!({"text": "no body"}),
        json!({"body": 42}),
        json!(["a"]),
    ] {
        let answer = laptop.send("PUT", "draft/note:lead_1/", Some(bad));
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    assert_eq!(
        phone.send("GET", "draft/note:lead_1/", None).ok()["body"],
        "Called, wants a quote by Friday"
    );

    // Sent: the draft goes.
    assert_eq!(laptop.send("DELETE", "draft/note:lead_1/", None).status, 204);
    assert_eq!(phone.send("GET", "draft/note:lead_1/", None).status, 404);
}

fn the_realtime_socket_takes_the_session_from_the_apps_own_pages_only(backend: Backend) {
    let Some(s) = TestServer::start(backend, "realtime_session") else {
        return;
    };
    let ann = add_user(&s, "ann@test.example", "Ann");
    let browser = Browser::login(&s, "ann@test.example");
    // Another site's page cannot open the socket with the user's cookie.
    let evil = Socket::connect(
        &s.base,
        "/api/v1/realtime",
        &[("Cookie", &browser.cookie), ("Origin", "http://evil.example")],
    );
    assert!(matches!(evil, Err(Refused(403))), "a cross-site socket is refused");
    assert!(matches!(
        Socket::connect(&s.base, "/api/v1/realtime", &[]),
        Err(Refused(401))
    ));

    let mut socket = Socket::connect(
        &s.base,
        "/api/v1/realtime",
        &[("Cookie", &browser.cookie), ("Origin", &s.base)],
    )
    .unwrap_or_else(|Refused(status)| panic!("the app's socket opens, not {status}"));
    let hello = socket.wait_for(10, "hello", |f| f["type"] == "hello");
    assert_eq!(hello["data"]["user_id"], ann["id"]);
    // A change by someone else arrives, with who made it.
    let lead = s.post("lead/", json!({"name": "Live Lead"})).ok();
    let event = socket.wait_for(10, "the new lead", |f| f["type"] == "lead.created");
    assert_eq!(event["data"]["object_id"], lead["id"]);
    assert!(event["data"]["user_id"]
        .as_str()
        .is_some_and(|u| u.starts_with("user_")));
    socket.close();
}

/// An admin of one organization adding the email of another organization's user: the
/// account joins as a member, and its password and name stay its owner's.
fn an_admin_cannot_take_over_another_organizations_account(backend: Backend) {
    let Some(s) = TestServer::start(backend, "no_cross_tenant_takeover") else {
        return;
    };
    let other_admin = s.new_organization("Other Co", "boss@other.example");
    let victim = s
        .post_as(
            &other_admin,
            "user/",
            json!({"email": "vic@other.example", "first_name": "Vic", "last_name": "Tim", "password": PASSWORD}),
        )
        .ok();
    let other_org = s.get_as(&other_admin, "me/").ok()["organization_id"].clone();

    let attacker_password = "attacker chosen password";
    let joined = s
        .post(
            "user/",
            json!({"email": "VIC@other.example", "first_name": "Eve", "password": attacker_password}),
        )
        .ok();
    assert_eq!(joined["id"], victim["id"], "the same account, now also a member here");
    assert_eq!(
        joined["first_name"], "Vic",
        "the account's name is its owner's: {joined}"
    );
    assert_eq!(joined["role"], "member");

    // The attacker's password opens nothing, here or there; the owner's still works.
    assert_eq!(login(&s, "vic@other.example", attacker_password).status, 401);
    let there = s.request(
        "POST",
        "auth/login/",
        None,
        Some(&json!({"email": "vic@other.example", "password": attacker_password, "organization_id": other_org})),
        &[],
    );
    assert_eq!(there.status, 401, "{}", there.body);
    let owner = login(&s, "vic@other.example", PASSWORD);
    assert_eq!(owner.status, 200, "{}", owner.body);
    assert_eq!(
        owner.body["user"]["organization_id"], other_org,
        "still lands in their own organization"
    );

    // Nor can the admin reset the password of an account that is not only theirs.
    let reset = s.post(
        &format!("user/{}/password/", victim["id"].as_str().unwrap()),
        json!({"password": attacker_password}),
    );
    assert_eq!(reset.status, 403, "{}", reset.body);
    assert_eq!(login(&s, "vic@other.example", attacker_password).status, 401);
    // Renaming them is theirs too.
    let rename = s.put(
        &format!("user/{}/", victim["id"].as_str().unwrap()),
        json!({"first_name": "Eve"}),
    );
    assert_eq!(rename.status, 400, "{}", rename.body);
    assert_eq!(
        s.get_as(&other_admin, &format!("user/{}/", victim["id"].as_str().unwrap()))
            .ok()["first_name"],
        "Vic"
    );
    // The other organization's users stay out of sight.
    let listed = s.get("user/").ok();
    let emails: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert!(!emails.contains(&"boss@other.example"), "{emails:?}");
}

/// The roles table: configuration is an admin's, the data everyone's.
fn admins_manage_the_team_and_members_work_the_data(backend: Backend) {
    let Some(s) = TestServer::start(backend, "roles_table") else {
        return;
    };
    let member = s.new_member("mia@test.example", "member");
    let forbidden = [
        (
            "webhook/",
            json!({"url": "https://hooks.example/x", "events": [{"object_type": "lead", "action": "created"}]}),
        ),
        (
            "website/",
            json!({"name": "Site", "allowed_origins": ["https://a.example"]}),
        ),
        ("status/lead/", json!({"label": "Hot"})),
        ("pipeline/", json!({"name": "Partners"})),
        ("custom_field/lead/", json!({"name": "Tier", "type": "text"})),
    ];
    for (path, body) in &forbidden {
        let refused = s.post_as(&member, path, body.clone());
        assert_eq!(refused.status, 403, "a member may not POST {path}: {}", refused.body);
        assert!(
            refused.body["error"].as_str().unwrap().contains("only an admin may"),
            "{}",
            refused.body
        );
        // The admin may.
        let made = s.post(path, body.clone());
        assert_eq!(made.status, 200, "the admin may POST {path}: {}", made.body);
        let id = made.body["id"].as_str().unwrap();
        let changed = s.request("PUT", &format!("{path}{id}/"), Some(&member), Some(&json!({})), &[]);
        assert_eq!(changed.status, 403, "a member may not PUT {path}: {}", changed.body);
        let deleted = s.request("DELETE", &format!("{path}{id}/"), Some(&member), None, &[]);
        assert_eq!(deleted.status, 403, "a member may not DELETE {path}: {}", deleted.body);
    }
    let job_retry = s.post_as(&member, "job/job_0000/retry/", json!({}));
    assert_eq!(job_retry.status, 403, "{}", job_retry.body);
    // Data is everyone's.
    s.post_as(&member, "lead/", json!({"name": "Member's lead"})).ok();
    // Team management is the admin's.
    let add = s.post_as(
        &member,
        "user/",
        json!({"email": "x@test.example", "password": PASSWORD}),
    );
    assert_eq!(add.status, 403, "{}", add.body);
    let me = s.get_as(&member, "me/").ok();
    let admin_id = s.get("me/").ok()["id"].as_str().unwrap().to_string();
    let promote = s.request(
        "PUT",
        &format!("user/{}/", me["id"].as_str().unwrap()),
        Some(&member),
        Some(&json!({"role": "admin"})),
        &[],
    );
    assert_eq!(
        promote.status, 403,
        "a member cannot make themselves admin: {}",
        promote.body
    );
    let remove_admin = s.request("DELETE", &format!("user/{admin_id}/"), Some(&member), None, &[]);
    assert_eq!(remove_admin.status, 403);

    // An admin removes a member: their key stops at once, their lead stays.
    let ann = add_user(&s, "ann@test.example", "Ann");
    let ann_id = ann["id"].as_str().unwrap();
    let browser = Browser::login(&s, "ann@test.example");
    assert_eq!(browser.send("GET", "me/", None).status, 200);
    let mia_id = me["id"].as_str().unwrap();
    assert_eq!(s.delete(&format!("user/{mia_id}/")).status, 204);
    assert_eq!(s.get_as(&member, "me/").status, 401, "the removed member's key is dead");
    assert_eq!(s.get("user/").ok()["data"].as_array().unwrap().len(), 2);
    let leads = s.get("lead/").ok();
    assert_eq!(
        leads["data"][0]["display_name"], "Member's lead",
        "what they wrote stays: {leads}"
    );
    assert_eq!(s.delete(&format!("user/{ann_id}/")).status, 204);
    assert_eq!(
        browser.send("GET", "me/", None).status,
        401,
        "the removed member's session is dead"
    );
    assert_eq!(s.get(&format!("user/{ann_id}/")).status, 404);
}

fn an_organization_keeps_at_least_one_admin(backend: Backend) {
    let Some(s) = TestServer::start(backend, "one_admin_always") else {
        return;
    };
    let admin_id = s.get("me/").ok()["id"].as_str().unwrap().to_string();
    let demote = s.put(&format!("user/{admin_id}/"), json!({"role": "member"}));
    assert_eq!(demote.status, 400, "{}", demote.body);
    assert!(
        demote.body["error"].as_str().unwrap().contains("at least one admin"),
        "{}",
        demote.body
    );
    assert_eq!(s.delete(&format!("user/{admin_id}/")).status, 400);
    assert_eq!(s.get("me/").ok()["organizations"][0]["role"], "admin");
    // With a second admin, the first may step down; then the second is the last one.
    let second = s.new_member("second@test.example", "member");
    let second_id = s.get_as(&second, "me/").ok()["id"].as_str().unwrap().to_string();
    s.put(&format!("user/{second_id}/"), json!({"role": "admin"})).ok();
    s.put(&format!("user/{admin_id}/"), json!({"role": "member"})).ok();
    let refused = s.request(
        "PUT",
        &format!("user/{second_id}/"),
        Some(&second),
        Some(&json!({"role": "member"})),
        &[],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let bad_role = s.request(
        "PUT",
        &format!("user/{admin_id}/"),
        Some(&second),
        Some(&json!({"role": "owner"})),
        &[],
    );
    assert_eq!(bad_role.status, 400);
    assert!(bad_role.body["field-errors"]["role"].is_string(), "{}", bad_role.body);
}

fn everyone_changes_their_own_name_and_password(backend: Backend) {
    let Some(s) = TestServer::start(backend, "own_name_and_password") else {
        return;
    };
    let ann = add_user(&s, "ann@test.example", "Ann");
    let ann_id = ann["id"].as_str().unwrap();
    let browser = Browser::login(&s, "ann@test.example");
    let renamed = browser
        .send(
            "PUT",
            &format!("user/{ann_id}/"),
            Some(json!({"first_name": " Anna ", "last_name": "Lee"})),
        )
        .ok();
    assert_eq!(renamed["display_name"], "Anna Lee");
    let control = browser.send("PUT", &format!("user/{ann_id}/"), Some(json!({"first_name": "A\u{0}"})));
    assert_eq!(control.status, 400);

    let wrong = browser.send(
        "POST",
        "me/password/",
        Some(json!({"current_password": "not it", "password": "a new password"})),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body["field-errors"]["current_password"].is_string());
    let short = browser.send(
        "POST",
        "me/password/",
        Some(json!({"current_password": PASSWORD, "password": "short"})),
    );
    assert!(short.body["field-errors"]["password"].is_string(), "{}", short.body);
    assert_eq!(
        login(&s, "ann@test.example", PASSWORD).status,
        200,
        "nothing changed yet"
    );
    assert_eq!(
        browser
            .send(
                "POST",
                "me/password/",
                Some(json!({"current_password": PASSWORD, "password": "a new password"}))
            )
            .status,
        204
    );
    assert_eq!(browser.send("GET", "me/", None).status, 401, "the old session ended");
    assert_eq!(login(&s, "ann@test.example", PASSWORD).status, 401);
    assert_eq!(login(&s, "ann@test.example", "a new password").status, 200);
    // An admin resets the password of a member who belongs nowhere else.
    assert_eq!(
        s.post(&format!("user/{ann_id}/password/"), json!({"password": "set by admin"}))
            .status,
        204
    );
    assert_eq!(login(&s, "ann@test.example", "set by admin").status, 200);
}
