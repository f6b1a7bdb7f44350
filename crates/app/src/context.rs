//! What every use case works with: the store, the channels, the hasher, mail, SMS and the clock.

use crate::clock::Clock;
use crate::crypto::Hasher;
use crate::i18n::Lang;
use crate::messaging::mail::Mailer;
use crate::messaging::sms::{AliyunSms, AliyunSmsConfig, SmsGateway};
use crate::payment::channels::Channels;
use crate::secrets::SecretKeys;
use campuspay_store::Store;
use std::sync::Arc;

/// The deployment's settings that the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Argon2 hashing threads (hashes at once), at a lower OS priority than the request
    /// threads; each keeps 19 MiB and takes one core for ~30 ms a hash.
    pub hash_permits: usize,
    /// How browsers reach us (`http://127.0.0.1:8080`): links in mail, provider return URLs.
    pub public_url: String,
    /// lettre SMTP URL (see `messaging::mail`); mail goes to the outbox without one.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Aliyun SMS account; SMS go to the outbox without one.
    pub aliyun_sms: Option<AliyunSmsConfig>,
    /// The key merchant secrets are sealed with at rest (`crate::secrets`); without one no
    /// merchant configuration can be saved or loaded.
    pub secret_keys: Option<SecretKeys>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hash_permits: 2,
            public_url: "http://127.0.0.1:8080".into(),
            smtp_url: None,
            mail_from: "校园统一支付平台 <noreply@campuspay.localhost>".into(),
            aliyun_sms: None,
            secret_keys: None,
        }
    }
}

/// A plain context, cheap to clone: the server holds one, the CLI and the worker make their own.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub hasher: Hasher,
    pub channels: Arc<Channels>,
    pub mailer: Mailer,
    pub sms: SmsGateway,
    /// What jobs are scheduled, claimed and found due by; tests move it forward.
    pub clock: Clock,
    /// Which refused provider notifications are kept (a bounded sample).
    pub reject_sample: Arc<crate::payment::notify::RejectSample>,
    /// The imports this process is checking or committing, for their progress bars.
    pub import_tasks: Arc<crate::office::imports::ImportTasks>,
    /// What merchant secrets are sealed and opened with.
    pub secret_keys: Option<SecretKeys>,
    /// Who issues each school's receipts.
    pub issuers: Arc<crate::receipts::Issuers>,
    /// Schools as the busy paths read them (at most `schools::KEPT` old).
    pub schools: Arc<crate::schools::SchoolCache>,
    /// Writes the busiest settlements together (`payment::settler`).
    pub settler: Arc<crate::payment::settler::Settler>,
    public_url: Arc<str>,
}

impl Context {
    pub fn new(store: Store, settings: &Settings) -> Context {
        let hasher = Hasher::new(settings.hash_permits);
        let mailer = Mailer::new(settings.smtp_url.as_deref(), &settings.mail_from).unwrap_or_else(|e| {
            tracing::error!(error = %e, "mail configuration refused; mail goes to the outbox");
            Mailer::Outbox
        });
        let sms = match &settings.aliyun_sms {
            Some(c) => SmsGateway::Aliyun(AliyunSms::new(c.clone())),
            None => SmsGateway::Outbox(store.clone()),
        };
        let public_url = settings.public_url.trim_end_matches('/').into();
        Context {
            store,
            hasher,
            channels: Arc::new(Channels::default()),
            mailer,
            sms,
            clock: Clock::default(),
            reject_sample: Arc::default(),
            import_tasks: Arc::default(),
            secret_keys: settings.secret_keys.clone(),
            issuers: Arc::default(),
            schools: Arc::default(),
            settler: Arc::default(),
            public_url,
        }
    }

    pub fn with_channels(mut self, channels: Channels) -> Context {
        self.channels = Arc::new(channels);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Context {
        self.clock = clock;
        self
    }

    /// Base of links in mail and provider return URLs, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }
}

/// Who is asking: address, user agent and language, for the security log, throttling and
/// messages. The server fills it from the request; the CLI from the terminal.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
    pub lang: Lang,
}
