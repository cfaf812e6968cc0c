//! The door session: a [`Session`] of role [`Door`] (cookie `tk_door`, path `/door`). A door
//! session cannot open `/admin`: the admin extractor asks for role `admin` and another cookie.

use crate::routes::session::{Door, Session};

/// Signed-in door staff.
pub type DoorSession = Session<Door>;
