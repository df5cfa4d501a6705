//! Who answers a website's chat: the users its `operators` field names, or everyone in
//! its organization when it names none.

use crate::Website;

impl Website {
    /// Whether any of `users` (ids, e.g. of those online now) answers this website's chat.
    pub fn has_operator_among<'a>(&self, users: impl IntoIterator<Item = &'a str>) -> bool {
        let operators = self.strings("operators");
        users
            .into_iter()
            .any(|user| operators.is_empty() || operators.iter().any(|o| o == user))
    }
}
