//! The state every handler shares: the profile and its client, users and their data sets,
//! the store, the virtual clock, armed faults and the rate-limit period, and the journal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use handshake_profile::{NativeScheme, Profile};
use serde_json::Value;

use crate::bounds::{later, FOREVER};
use crate::journal::{Captured, Journal};
use crate::live::Live;
use crate::native::NativeCredentials;
use crate::relax::Relaxed;
use crate::store::{Clock, Store};
use crate::sync::lock;
use crate::types::{Endpoint, Fault, FaultKind, JournalEntry, RegisteredClient};
use crate::{dataset, users};

/// What every handler shares, behind one `Arc`.
pub(crate) struct Shared {
    pub(crate) profile: Profile,
    pub(crate) client: RegisteredClient,
    pub(crate) auto_approve: bool,
    pub(crate) base_url: String,
    /// Credentials of the native scheme.
    pub(crate) native: NativeCredentials,
    /// Secret values scrubbed from journal entries wherever they appear.
    pub(crate) secrets: Vec<String>,
    /// The data set served by the API resource to the first user, in id order.
    pub(crate) records: Vec<Value>,
    pub(crate) seed: u64,
    /// Rendered API list pages (the records above never change while the mock runs).
    pub(crate) pages: crate::page_cache::PageCache,
    /// User account names; index 0 is the first user (auto-approve, native credentials).
    pub(crate) users: Vec<String>,
    /// The data sets of users 1.. (the first user's is `records`).
    other_records: Vec<Vec<Value>>,
    /// Requirements relaxed at run time (`MockProvider::relax`).
    pub(crate) relaxed: Relaxed,
    /// The effective rate limit (builder override or profile).
    pub(crate) rate_limit: Option<(u32, Duration)>,
    /// The rate window of the native credentials (one identity per mock).
    pub(crate) native_rate: Mutex<Option<(Instant, u32)>>,
    pub(crate) store: Mutex<Store>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<Vec<Fault>>,
    /// Whether a fault was armed since the faults were last cleared: until then no request
    /// takes the fault locks (every request asks, and almost none has a fault to meet).
    faults_armed: AtomicBool,
    /// The period of a tripped `rate_limited` fault, while it lasts.
    limited: Mutex<Option<LimitedPeriod>>,
    journal: Journal,
    /// Entries as they happen, for subscribers (`MockProvider::subscribe`).
    pub(crate) live: Live,
    pub(crate) seq: AtomicU64,
    /// Time a request's body has to arrive, in milliseconds (the connection's header-read
    /// timeout; see `conn.rs`).
    pub(crate) body_timeout_ms: AtomicU64,
}

/// A tripped `rate_limited` fault: refusals left until `until`.
struct LimitedPeriod {
    until: Instant,
    /// `X-RateLimit-Reset`: Unix seconds at or just after `until`.
    reset_at: u64,
    left: u32,
}

/// One refusal by a `rate_limited` fault.
pub(crate) struct Limited {
    /// Time left in the period.
    pub(crate) retry_after: Duration,
    /// Unix seconds when the period is over.
    pub(crate) reset_at: u64,
}

/// What the builder hands to the server.
pub(crate) struct Settings {
    pub(crate) profile: Profile,
    pub(crate) client: RegisteredClient,
    pub(crate) auto_approve: bool,
    pub(crate) base_url: String,
    pub(crate) native: NativeCredentials,
    pub(crate) seed: u64,
    pub(crate) dataset_size: Option<u32>,
    pub(crate) rate_limit: Option<(u32, Duration)>,
    /// Validated user account names, at least one.
    pub(crate) users: Vec<String>,
}

impl Shared {
    pub(crate) fn new(c: Settings) -> Self {
        let records = dataset::records(&c.profile, c.seed, c.dataset_size);
        let other_records = c
            .users
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, name)| users::records_of_user(&c.profile, c.seed, c.dataset_size, i, name))
            .collect();
        let rate_limit = effective_rate_limit(&c.profile, c.rate_limit);
        let mut secrets = c.native.secrets();
        secrets.push(c.client.client_secret.secret().to_owned());
        // Short values would scrub innocent text; they are never defaults.
        secrets.retain(|v| v.len() >= 6);
        Shared {
            profile: c.profile,
            client: c.client,
            auto_approve: c.auto_approve,
            base_url: c.base_url,
            native: c.native,
            secrets,
            records,
            seed: c.seed,
            pages: Default::default(),
            users: c.users,
            other_records,
            relaxed: Relaxed::default(),
            rate_limit,
            native_rate: Mutex::new(None),
            store: Mutex::new(Store::default()),
            clock: Clock::default(),
            faults: Mutex::new(Vec::new()),
            faults_armed: AtomicBool::new(false),
            limited: Mutex::new(None),
            journal: Journal::default(),
            live: Live::default(),
            seq: AtomicU64::new(0),
            body_timeout_ms: AtomicU64::new(crate::limits::HEADER_READ_TIMEOUT.as_millis() as u64),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The index of a user account by name.
    pub(crate) fn user_index(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u == name)
    }

    /// The data set the API serves to user `index` (the first user's when out of range).
    pub(crate) fn records_of(&self, index: usize) -> &[Value] {
        match index.checked_sub(1) {
            Some(i) => self.other_records.get(i).map_or(&self.records, |r| r),
            None => &self.records,
        }
    }

    /// The endpoint a path belongs to, for the journal and for faults.
    pub(crate) fn endpoint_of(&self, path: &str) -> Option<Endpoint> {
        let o = &self.profile.oauth;
        if path == o.authorize_path {
            Some(Endpoint::Authorize)
        } else if path == o.token_path {
            Some(Endpoint::Token)
        } else if o.revoke_paths.iter().any(|p| p == path) {
            Some(Endpoint::Revoke)
        } else if path == self.profile.api.path || self.is_api_item(path) || self.is_exchange(path)
        {
            Some(Endpoint::Api)
        } else {
            None
        }
    }

    fn is_api_item(&self, path: &str) -> bool {
        path.strip_prefix(self.profile.api.path.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    }

    fn is_exchange(&self, path: &str) -> bool {
        exchange_path(&self.profile) == Some(path)
    }

    pub(crate) fn arm(&self, fault: Fault) {
        if fault.times > 0 {
            let mut faults = lock(&self.faults);
            faults.push(fault);
            self.faults_armed.store(true, Ordering::Release);
        }
    }

    /// Forgets armed faults and ends a tripped rate limit.
    pub(crate) fn clear_faults(&self) {
        let mut faults = lock(&self.faults);
        faults.clear();
        *lock(&self.limited) = None;
        self.faults_armed.store(false, Ordering::Release);
    }

    /// Spends one firing of the first fault armed on `endpoint` (a `rate_limited` one is
    /// left to the API handler).
    pub(crate) fn take_fault(&self, endpoint: Endpoint) -> Option<FaultKind> {
        if !self.faults_armed.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| f.endpoint == endpoint)?;
        if matches!(faults[i].kind, FaultKind::RateLimited { .. }) {
            // Left to the API handler: only authenticated calls meet a rate limit.
            return None;
        }
        let kind = faults[i].kind.clone();
        faults[i].times -= 1;
        if faults[i].times == 0 {
            faults.remove(i);
        }
        Some(kind)
    }

    /// For an authenticated API call: `Some` when a `rate_limited` fault refuses it, either
    /// inside a period already tripped or by tripping the fault armed first on the API.
    pub(crate) fn take_rate_limited(&self) -> Option<Limited> {
        if !self.faults_armed.load(Ordering::Acquire) {
            return None;
        }
        let now = self.now();
        let mut period = lock(&self.limited);
        if let Some(p) = period.as_mut() {
            if now < p.until {
                p.left -= 1;
                let limited = Limited {
                    retry_after: p.until.saturating_duration_since(now),
                    reset_at: p.reset_at,
                };
                if p.left == 0 {
                    *period = None;
                }
                return Some(limited);
            }
            *period = None;
        }
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| f.endpoint == Endpoint::Api)?;
        let FaultKind::RateLimited { retry_after_secs } = faults[i].kind else {
            return None;
        };
        let times = faults.remove(i).times;
        let hold = Duration::from_secs(retry_after_secs.max(1)).min(FOREVER);
        let end = self.clock.unix_now().saturating_add(hold);
        let reset_at = end.as_secs() + u64::from(end.subsec_nanos() > 0);
        if times > 1 {
            *period = Some(LimitedPeriod {
                until: later(now, hold),
                reset_at,
                left: times - 1,
            });
        }
        Some(Limited {
            retry_after: hold,
            reset_at,
        })
    }

    /// The journal, oldest first, decoded and redacted.
    pub(crate) fn journal(&self) -> Vec<JournalEntry> {
        self.journal.entries(&self.secrets)
    }

    /// The journal entries whose `seq` is greater than `since`, oldest first.
    pub(crate) fn journal_since(&self, since: u64) -> Vec<JournalEntry> {
        self.journal.entries_since(since, &self.secrets)
    }

    /// The faults armed, in the order they apply, and the tripped rate-limit period, if one
    /// is running: (time left, refusals left).
    pub(crate) fn armed(&self) -> (Vec<Fault>, Option<(Duration, u32)>) {
        let faults = lock(&self.faults).clone();
        let now = self.now();
        let period = lock(&self.limited)
            .as_ref()
            .filter(|p| now < p.until)
            .map(|p| (p.until.saturating_duration_since(now), p.left));
        (faults, period)
    }

    /// Journals a finished request and publishes it to the live feed.
    pub(crate) fn record(&self, entry: JournalEntry, raw: Captured) {
        self.live.publish(&entry, &raw, &self.secrets);
        self.journal.record(entry, raw);
    }

    pub(crate) fn reset(&self) {
        *lock(&self.store) = Store::default();
        self.clear_faults();
        self.journal.clear();
        *lock(&self.native_rate) = None;
        self.clock.reset();
        self.relaxed.clear();
    }

    /// The issuer identifier: `oauth.issuer`, else the base URL (RFC 8414 §2).
    pub(crate) fn issuer(&self) -> String {
        self.profile.oauth.issuer_for(&self.base_url)
    }

    /// The absolute URL of `path` on this mock.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Whether `uri` may receive the authorization response (RFC 6749 §3.1.2.3).
    pub(crate) fn redirect_allowed(&self, uri: &str) -> bool {
        let registered = &self.client.redirect_uris;
        if self.profile.security.exact_redirect_uri {
            registered.iter().any(|r| r == uri)
        } else {
            // The classic sloppy check: prefix match, which lets attackers append paths.
            registered.iter().any(|r| uri.starts_with(r.as_str()))
        }
    }
}

/// The effective limit: the builder's override, else the profile's.
fn effective_rate_limit(p: &Profile, over: Option<(u32, Duration)>) -> Option<(u32, Duration)> {
    over.or_else(|| {
        p.rate_limit
            .limit
            .map(|l| (l, Duration::from_secs(p.rate_limit.window_secs)))
    })
}

/// Redtail's key-exchange path, when the profile's native scheme has one.
pub(crate) fn exchange_path(p: &Profile) -> Option<&str> {
    p.native_auth
        .as_ref()
        .filter(|n| n.scheme == NativeScheme::RedtailUserKey)
        .and_then(|n| n.exchange_path.as_deref())
}
