//! Who is on the other end of the connection: the client's address, for limits that hold
//! whoever the client claims to be (logins, visitors).
//!
//! Behind a reverse proxy every connection comes from the proxy, so the address is taken
//! from the header the proxy sets (`--client-ip-header`, e.g. `X-Forwarded-For`: its last
//! entry, the one the proxy added), and from the connection otherwise. Never trust that
//! header without a proxy that sets it: a client could send any address.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::server::ConnectionInfo;
use crate::{ApiError, AppState};

/// The header a trusted proxy puts the client's address in, left in each request's
/// extensions by the server when configured.
#[derive(Clone)]
pub struct ClientIpHeader(pub String);

/// The client's address.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

pub fn client_address(parts: &Parts) -> IpAddr {
    let from_proxy = parts
        .extensions
        .get::<ClientIpHeader>()
        .and_then(|ClientIpHeader(name)| {
            let value = parts.headers.get_all(name.as_str()).iter().next_back()?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse().ok()
        });
    from_proxy
        .or_else(|| parts.extensions.get::<ConnectionInfo>().map(|c| c.peer.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl ClientAddress {
    /// Takes one of `limit` for this client, or the 429 to answer.
    pub async fn take(&self, state: &AppState, limit: &rapport_crm::limits::ClientLimit) -> Result<(), ApiError> {
        Ok(state.crm.charge_client(limit, self.0).await?)
    }
}
