//! Mail: a real SMTP client (lettre) to the server in the configuration, or the outbox.
//!
//! `--smtp-url` takes lettre's connection URL: `smtp://user:pass@host:587?tls=required`
//! (STARTTLS), `smtps://user:pass@host:465` (TLS from the start), `smtp://host:25` (no TLS,
//! only for a relay on the same host). Without it, mail goes to the outbox table, listed at
//! `/demo/outbox` in demo mode.

use super::SendError;
use campuspay_store::Store;
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: Box<AsyncSmtpTransport<Tokio1Executor>>, from: Mailbox },
    Outbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Mailer::Outbox => write!(f, "Mailer::Outbox"),
        }
    }
}

impl Mailer {
    /// An SMTP mailer for `url`, or the outbox when there is none.
    pub fn new(url: Option<&str>, from: &str) -> Result<Mailer, String> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return Ok(Mailer::Outbox);
        };
        let transport = Box::new(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| format!("--smtp-url: {e}"))?
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build(),
        );
        let from = from.parse::<Mailbox>().map_err(|e| format!("--mail-from {from:?}: {e}"))?;
        Ok(Mailer::Smtp { transport, from })
    }

    /// Sends one mail. An address that does not parse, or an SMTP 5xx answer, is refused for
    /// good; a 4xx answer, a timeout or a lost connection may pass.
    pub async fn send(&self, store: &Store, to: &str, subject: &str, body: &str) -> Result<(), SendError> {
        match self {
            Mailer::Outbox => store
                .write(async |tx| store.insert_outbox(tx, "email", to, subject, body).await)
                .await
                .map_err(|e| SendError::transient(e.to_string())),
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = to.parse().map_err(|e| SendError::permanent(format!("recipient: {e}")))?;
                let msg = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(body.to_string())
                    .map_err(|e| SendError::permanent(e.to_string()))?;
                transport.send(msg).await.map(|_| ()).map_err(|e| SendError { message: e.to_string(), permanent: e.is_permanent() })
            }
        }
    }
}
