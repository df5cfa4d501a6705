//! A fresh database per test (`rapport-testkit`) and an organization to act in.
#![allow(dead_code)]

pub use rapport_testkit::{on_both_backends, unique, TestDb};

use rapport_crm::{Actor, Crm, CrmConfig, NewOrganization};
use rapport_store::Db;

/// Opens the database and makes an organization with its admin.
pub async fn crm_with_organization(test_db: &TestDb) -> (Db, Crm, Actor) {
    let db = test_db.open().await;
    let crm = Crm::new(db.clone(), CrmConfig::default());
    let new = NewOrganization {
        name: "Test".into(),
        admin_email: format!("{}@test.example", unique("admin")),
        admin_first_name: "T".into(),
        admin_last_name: String::new(),
        admin_password: None,
    };
    let actor = crm.create_organization(&new).await.unwrap();
    (db, crm, actor)
}
