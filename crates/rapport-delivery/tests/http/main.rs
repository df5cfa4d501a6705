//! HTTP deliveries (webhooks, Slack, the address policy) against real receivers on
//! loopback ports. Nothing here sends a packet off this machine: addresses outside
//! loopback are only ever checked with `AddressPolicy::resolve`, which never connects.

mod receiver;
mod slack;
mod ssrf;
mod transport;
mod webhook;

use rapport_delivery::AddressPolicy;

/// The default policy, with `127.0.0.1` allowed so that the test receivers are reachable.
fn allow_loopback() -> AddressPolicy {
    AddressPolicy {
        allow: vec!["127.0.0.1".parse().unwrap()],
    }
}
