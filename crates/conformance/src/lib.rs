//! Conformance scenarios and their runner: OAuth 2.0 flows played end to end against mock CRMs.
//!
//! A scenario (`scenarios/*.toml`) is data: ordered steps with expected outcomes and
//! expectations on the mock's journal. The [`Runner`] plays every scenario against every
//! provider profile, each case with its own in-process mock on a random loopback port, in
//! parallel, and returns a [`Report`] (pretty, JSON, JUnit, or HTML with a sequence diagram of
//! every failure, drawn from its [`Trace`]).
//!
//! [`explore`] is the stateful property test of a client (`handshake explore`): random
//! sequences over the same step vocabulary, every property checked after every step, a
//! violation shrunk to a scenario file. [`strategies`] has the proptest strategies behind it
//! (PKCE verifiers, `state`, tampered callbacks, CRM-shaped token responses), and [`broken`]
//! the deliberately broken clients that show what a finding looks like.

pub mod blackbox;
pub mod broken;
mod browser;
mod control;
mod cut;
mod error;
mod exec;
mod expected;
pub mod explore;
mod html;
mod mockctl;
mod partition;
mod plan;
mod reference;
pub mod report;
mod runner;
mod scenario;
pub mod strategies;
mod target;
pub mod trace;

pub use blackbox::{
    app_env, check_client, AppCommand, ClientCheck, ClientCheckConfig, ClientCheckError,
    ClientCheckId, RemoteMock, RemoteMockBuilder,
};
pub use cut::{ApiReply, ClientFactory, ClientFailure, ClientSettings, ClientUnderTest, CrmError};
pub use error::{ExpectedFailuresError, ReportError, ScenarioError, ScenarioErrorKind};
pub use expected::{ExpectedFailure, ExpectedFailures, DEFAULT_FILE_NAME};
pub use partition::{Partition, PartitionError};
pub use plan::{plan, skip_reason, PlannedCase};
pub use reference::{failure as reference_failure, ReferenceClient, ReferenceSession};
pub use report::{CaseReport, Failure, Report, ReportFormat, Status, Summary};
pub use runner::Runner;
pub use scenario::{
    Action, AuthChoice, ClientSetup, ClockAdvance, CodeChoice, CredentialChoice, EndpointName,
    FaultSpec, JournalExpect, MockSetup, RateLimitSetup, RawGrant, RawPkce, RedirectChoice,
    Requirement, Scenario, ScopeChoice, SecretChoice, Step, Tamper, VerifierChoice,
};
pub use target::{Registration, Secret, Target};
pub use trace::{Actor, EventKind, Trace, TraceEvent};
