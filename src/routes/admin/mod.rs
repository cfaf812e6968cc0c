//! The admin console: sign-in, the sales dashboard, and the two box-office actions, each
//! behind a confirmation step.
//!
//! - `session`: the signed session cookie and the [`AdminSession`] extractor, checked before
//!   any request body is read, and the CSRF check;
//! - `sign_in`: sign-in and sign-out;
//! - `dashboard`: the page;
//! - `actions`: set available seats, reset;
//! - `queue`: the waiting room's pause and rate.

mod actions;
mod dashboard;
mod emails;
mod queue;
pub mod session;
mod sign_in;

pub use actions::{reset, set_available};
pub use dashboard::index;
pub use emails::retry_email;
pub use queue::{queue_pause, queue_rate};
pub use session::AdminSession;
pub use sign_in::{login, login_form, logout};
