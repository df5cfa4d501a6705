//! Signals between nodes over RabbitMQ: a fanout exchange `{prefix}.realtime`, and one
//! exclusive, auto-deleted queue per node bound to it. Messages are transient JSON
//! [`Signal`]s: a signal lost while the broker is away is a typing indicator or a presence
//! that the next announcement repairs. Changes do not travel here (see the crate docs).

use std::future::Future;
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::mpsc;

use crate::{Hub, Signal};

/// How often a node repeats its presence to the others.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Connects the hub to the other nodes through the broker at `url`, until `shutdown`;
/// reconnects whenever the broker goes away.
pub async fn run(hub: Hub, url: String, prefix: String, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let (outgoing_tx, mut outgoing) = mpsc::unbounded_channel::<Signal>();
    *hub.0.outgoing.lock().expect("outgoing lock") = Some(outgoing_tx);
    let exchange = format!("{prefix}.realtime");
    loop {
        let session = tokio::select! {
            _ = &mut shutdown => return,
            session = connect(&hub, &url, &exchange) => session,
        };
        match session {
            Ok((connection, channel, mut incoming)) => {
                tracing::info!(node = hub.node(), "real time: connected to the other nodes");
                // What the others missed of this node while it was away.
                hub.announce_presence();
                let mut announce = tokio::time::interval(ANNOUNCE_EVERY);
                let lost = loop {
                    tokio::select! {
                        _ = &mut shutdown => {
                            let _ = tokio::time::timeout(Duration::from_secs(2), connection.close(200, "shutdown")).await;
                            return;
                        }
                        _ = announce.tick() => hub.announce_presence(),
                        signal = outgoing.recv() => {
                            let Some(signal) = signal else { return };
                            let payload = serde_json::to_vec(&signal).expect("a signal serializes");
                            if let Err(e) = channel
                                .basic_publish(&exchange, "", BasicPublishOptions::default(), &payload, BasicProperties::default())
                                .await
                            {
                                break e.to_string();
                            }
                        }
                        received = incoming.recv() => match received {
                            Some(Ok(signal)) => hub.receive(signal),
                            Some(Err(e)) => break e,
                            None => break "the consumer stopped".to_string(),
                        },
                    }
                };
                tracing::warn!(error = %lost, "real time: lost the broker; reconnecting");
                let _ = tokio::time::timeout(Duration::from_secs(2), connection.close(200, "reconnecting")).await;
            }
            Err(e) => tracing::warn!(error = %e, "real time: cannot reach the broker; retrying"),
        }
        // Signals sent meanwhile are stale by the time the broker is back.
        while outgoing.try_recv().is_ok() {}
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(RETRY_AFTER) => {}
        }
    }
}

type Incoming = mpsc::UnboundedReceiver<Result<Signal, String>>;

async fn connect(hub: &Hub, url: &str, exchange: &str) -> Result<(Connection, lapin::Channel, Incoming), String> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
        .with_connection_name(format!("rapport realtime {}", hub.node()).into());
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties))
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    let tx_errors = tx.clone();
    let opened = async {
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                exchange,
                ExchangeKind::Fanout,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.name().as_str(),
                exchange,
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consumer = channel
            .basic_consume(
                queue.name().as_str(),
                hub.node(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        consumer.set_delegate(move |delivery: lapin::message::DeliveryResult| {
            let item = match delivery {
                Ok(Some(delivery)) => match serde_json::from_slice::<Signal>(&delivery.data) {
                    Ok(signal) => Some(Ok(signal)),
                    Err(e) => {
                        tracing::warn!(error = %e, "real time: a signal that does not parse; ignored");
                        None
                    }
                },
                Ok(None) => Some(Err("the broker cancelled the consumer".to_string())),
                Err(e) => Some(Err(e.to_string())),
            };
            if let Some(item) = item {
                let _ = tx.send(item);
            }
            std::future::ready(())
        });
        Ok::<_, lapin::Error>(channel)
    }
    .await;
    match opened {
        Ok(channel) => {
            // The connection's end reaches the session as an error.
            let errors = tx_errors;
            let mut listener = Box::pin(connection.events_listener());
            tokio::spawn(async move {
                use futures_core::Stream;
                while let Some(event) = std::future::poll_fn(|cx| listener.as_mut().poll_next(cx)).await {
                    if let lapin::Event::Error(e) = event {
                        if errors.send(Err(e.to_string())).is_err() {
                            return;
                        }
                    }
                }
            });
            Ok((connection, channel, rx))
        }
        Err(e) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), connection.close(200, "setup failed")).await;
            Err(e.to_string())
        }
    }
}
