//! Sign-in and sign-out of the box office: [`routes::staff`](crate::routes::staff)'s handlers
//! for the [`Admin`] role, and the admin's choice of what "sign out" ends.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::session::AdminSession;
use crate::booking::StaffRole;
use crate::error::AppError;
use crate::routes::AppState;
use crate::routes::session::Admin;
use crate::routes::staff::{self, SignOut};

#[get("/admin/login")]
pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    staff::login_form::<Admin>(&req, &state).await
}

#[post("/admin/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    staff::login::<Admin>(&req, payload, &state).await
}

/// Signs out. `scope` says what ends: nothing or `this` (this session, on every process),
/// `admin` ("Sign out everywhere": every box-office session, this one included; the older
/// `everywhere=yes` means the same) or `door` (every door device; the admin stays signed in).
#[post("/admin/logout")]
pub async fn logout(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = staff::checked_form(&session, &req, payload, &state).await?;
    let which = match (form.get("scope"), form.get("everywhere")) {
        ("admin", _) | (_, "yes") => SignOut::Everyone(StaffRole::Admin),
        ("door", _) => SignOut::Everyone(StaffRole::Door),
        ("" | "this", _) => SignOut::ThisSession,
        (other, _) => return Err(AppError::BadRequest(format!("Unknown sign-out scope {other:?}."))),
    };
    staff::sign_out(&session, which, &req, &state).await
}
