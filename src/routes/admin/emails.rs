//! "Send again" for an email the sender gave up on: queued again with fresh attempts.

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::session::AdminSession;
use crate::error::AppError;
use crate::routes::staff::checked_form;
use crate::routes::{AppState, see_other};

#[post("/admin/emails/retry")]
pub async fn retry_email(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let id = form.get("id").to_owned();
    if state.shop.retry_email(id.clone()).await? {
        log::info!("{} queued email {id} again", super::session::actor(&req, &state));
    }
    Ok(see_other("/admin"))
}
