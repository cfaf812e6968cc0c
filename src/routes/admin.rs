//! The admin console: sign-in (signed `HttpOnly`, `SameSite=Strict` session cookie), CSRF
//! tokens on every POST, the sales dashboard, and the two box-office actions, each behind a
//! confirmation step.

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{AppState, html, read_form};
use crate::booking::admin::{self, AdminError, TierFigures};
use crate::clock::{format_millis, now_millis};
use crate::db::DbError;
use crate::db::models::{AuditEntry, Booking};
use crate::error::AppError;
use crate::money::{count, usd};
use crate::rate_limit::client_ip;
use crate::routes::assets;
use crate::settings::random_token;

const SESSION_COOKIE: &str = "tk_admin";
const SIGN_IN_COOKIE: &str = "tk_signin";
/// A session lasts a working day.
const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// A signed-in admin. Lives only in the signed cookie: any process with the same
/// `SESSION_SECRET` accepts it.
#[derive(Debug, Clone)]
struct AdminSession {
    csrf: String,
    issued_at: i64,
}

impl AdminSession {
    fn encode(&self) -> String {
        format!("v1|{}|{}", self.csrf, self.issued_at)
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let (version, csrf, issued_at) = (parts.next()?, parts.next()?, parts.next()?);
        let issued_at = issued_at.parse().ok()?;
        (version == "v1" && parts.next().is_none() && now_millis() - issued_at < SESSION_MILLIS)
            .then(|| Self { csrf: csrf.to_owned(), issued_at })
    }
}

/// Reads a signed cookie, returning its value only if the signature holds.
fn signed_value(req: &HttpRequest, key: &Key, name: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(name)?.into_owned());
    jar.signed(key).get(name).map(|c| c.value().to_owned())
}

/// A signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin`.
fn signed_cookie(
    req: &HttpRequest,
    key: &Key,
    name: &'static str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    let cookie = Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(cookie);
    jar.get(name).cloned().unwrap_or_else(|| Cookie::new(name, ""))
}

fn expired_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie =
        Cookie::build(name, "").path("/admin").http_only(true).same_site(SameSite::Strict).finish();
    cookie.make_removal();
    cookie
}

fn session(req: &HttpRequest, state: &AppState) -> Option<AdminSession> {
    signed_value(req, &state.cookie_key, SESSION_COOKIE).and_then(|v| AdminSession::decode(&v))
}

/// Compares secrets in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// The fields of an admin form (unknown fields ignored; first occurrence wins).
#[derive(Debug, Default)]
struct AdminForm {
    fields: Vec<(String, String)>,
}

impl AdminForm {
    async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Self, AppError> {
        Ok(Self { fields: read_form(req, payload).await? })
    }

    fn get(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or_default()
    }
}

/// The signed-in session, and a CSRF token that matches it, or the refusal.
fn authorize(req: &HttpRequest, state: &AppState, form: &AdminForm) -> Result<AdminSession, AppError> {
    let session = session(req, state).ok_or(AppError::Unauthorized)?;
    let header_token = req.headers().get("X-CSRF-Token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let token = if form.get("csrf_token").is_empty() { header_token } else { form.get("csrf_token") };
    if token.is_empty() || !constant_time_eq(token.as_bytes(), session.csrf.as_bytes()) {
        return Err(AppError::Forbidden(
            "The form's security token is missing or out of date. Reload the admin page and try again."
                .into(),
        ));
    }
    Ok(session)
}

fn actor(req: &HttpRequest, state: &AppState) -> String {
    format!("admin@{}", client_ip(req, state.settings.trust_forwarded_for))
}

// ---- sign-in -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    asset_version: &'static str,
    csrf_token: String,
    error: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let csrf_token = random_token(32);
    let page = LoginPage { asset_version: assets::version(), csrf_token: csrf_token.clone(), error };
    let mut response = html(status, &page)?;
    let cookie = signed_cookie(req, &state.cookie_key, SIGN_IN_COOKIE, csrf_token, time::Duration::hours(1));
    response.add_cookie(&cookie).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(response)
}

#[get("/admin/login")]
pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if session(&req, &state).is_some() {
        return Ok(see_other("/admin"));
    }
    login_page(&req, &state, StatusCode::OK, None)
}

#[post("/admin/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if let Err(retry_after_secs) = state.limits.sign_in(&req) {
        log::warn!("sign-in rate limit hit by {}", client_ip(&req, state.settings.trust_forwarded_for));
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let form = AdminForm::read(&req, payload).await?;
    let expected = signed_value(&req, &state.cookie_key, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(form.get("csrf_token").as_bytes(), expected.as_bytes()) {
        return login_page(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired. Please enter the password again.".into()),
        );
    }
    // The password is compared as typed (not trimmed).
    let typed =
        form.fields.iter().find(|(k, _)| k == "password").map(|(_, v)| v.as_str()).unwrap_or_default();
    if !constant_time_eq(typed.as_bytes(), state.settings.admin_password.as_bytes()) {
        log::warn!("failed admin sign-in from {}", client_ip(&req, state.settings.trust_forwarded_for));
        return login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right.".into()),
        );
    }
    let session = AdminSession { csrf: random_token(32), issued_at: now_millis() };
    log::info!("admin signed in from {}", client_ip(&req, state.settings.trust_forwarded_for));
    let cookie = signed_cookie(
        &req,
        &state.cookie_key,
        SESSION_COOKIE,
        session.encode(),
        time::Duration::milliseconds(SESSION_MILLIS),
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .cookie(cookie)
        .cookie(expired_cookie(SIGN_IN_COOKIE))
        .finish())
}

#[post("/admin/logout")]
pub async fn logout(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = AdminForm::read(&req, payload).await?;
    authorize(&req, &state, &form)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .cookie(expired_cookie(SESSION_COOKIE))
        .finish())
}

// ---- dashboard -----------------------------------------------------------------------------

/// One segment of a tier's bar, in percent of capacity.
#[derive(Debug, Clone)]
struct Segment {
    class: &'static str,
    x: String,
    width: String,
}

#[derive(Debug, Clone)]
struct TierRow {
    id: String,
    name: String,
    capacity: String,
    confirmed: String,
    held: String,
    withheld: String,
    available: String,
    available_raw: i32,
    revenue: String,
    segments: Vec<Segment>,
    summary: String,
}

impl TierRow {
    fn new(f: &TierFigures) -> Self {
        let t = &f.tier;
        let capacity = f64::from(t.capacity.max(1));
        let mut x = 0.0;
        let segments = [
            ("sold", f.confirmed as f64),
            ("held", f.held as f64),
            ("withheld", f64::from(t.withheld)),
            ("available", f64::from(t.available)),
        ]
        .into_iter()
        .map(|(class, n)| {
            let width = 100.0 * n / capacity;
            let segment = Segment { class, x: format!("{x:.2}"), width: format!("{width:.2}") };
            x += width;
            segment
        })
        .collect();
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            capacity: count(t.capacity.into()),
            confirmed: count(f.confirmed),
            held: count(f.held),
            withheld: count(t.withheld.into()),
            available: count(t.available.into()),
            available_raw: t.available,
            revenue: usd(f.revenue_cents),
            segments,
            summary: format!(
                "{}: {} sold, {} held, {} withheld, {} available of {}",
                t.name, f.confirmed, f.held, t.withheld, t.available, t.capacity
            ),
        }
    }
}

struct RecentRow {
    reference: String,
    created_at: String,
    tier: String,
    quantity: i32,
    total: String,
    status: &'static str,
    status_label: &'static str,
    buyer: String,
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    tier: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct Dashboard {
    asset_version: &'static str,
    csrf_token: String,
    tiers: Vec<TierRow>,
    totals: TierRow,
    recent: Vec<RecentRow>,
    audit: Vec<AuditRow>,
    error: Option<String>,
}

async fn dashboard(
    state: &AppState,
    session: &AdminSession,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (figures, recent, audit) = state
        .shop
        .with_conn(|c| -> Result<_, DbError> {
            Ok((admin::figures(c)?, Booking::recent(c, 20)?, AuditEntry::recent(c, 50)?))
        })
        .await?;
    let name_of = |id: &str| {
        figures.iter().find(|f| f.tier.id == id).map(|f| f.tier.name.clone()).unwrap_or_else(|| id.to_owned())
    };
    let sum = |g: &dyn Fn(&TierFigures) -> i64| figures.iter().map(g).sum::<i64>();
    let total = TierFigures {
        tier: crate::db::models::Tier {
            id: "total".into(),
            name: "All tiers".into(),
            price_cents: 0,
            capacity: sum(&|f| f.tier.capacity.into()) as i32,
            available: sum(&|f| f.tier.available.into()) as i32,
            withheld: sum(&|f| f.tier.withheld.into()) as i32,
            sort_order: 0,
        },
        confirmed: sum(&|f| f.confirmed),
        held: sum(&|f| f.held),
        revenue_cents: sum(&|f| f.revenue_cents),
    };
    let page = Dashboard {
        asset_version: assets::version(),
        csrf_token: session.csrf.clone(),
        tiers: figures.iter().map(TierRow::new).collect(),
        totals: TierRow::new(&total),
        recent: recent
            .iter()
            .map(|b| RecentRow {
                reference: b.reference.clone(),
                created_at: format_millis(b.created_at),
                tier: name_of(&b.tier_id),
                quantity: b.quantity,
                total: usd(b.total_cents),
                status: b.status().as_str(),
                status_label: b.status().label(),
                buyer: b.user_id.clone().unwrap_or_else(|| b.customer_email.clone()),
            })
            .collect(),
        audit: audit
            .into_iter()
            .map(|a| AuditRow {
                at: format_millis(a.at),
                actor: a.actor,
                action: a.action,
                tier: a.tier_id.as_deref().map(&name_of).unwrap_or_else(|| "all".into()),
                before: a.before,
                after: a.after,
            })
            .collect(),
        error,
    };
    let mut response = html(status, &page)?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[get("/admin")]
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    match session(&req, &state) {
        Some(session) => dashboard(&state, &session, StatusCode::OK, None).await,
        None => Ok(see_other("/admin/login")),
    }
}

// ---- actions -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage {
    asset_version: &'static str,
    csrf_token: String,
    question: String,
    action: &'static str,
    /// Hidden fields to post again with `confirm=yes`.
    fields: Vec<(String, String)>,
    button: &'static str,
}

fn confirm_page(
    session: &AdminSession,
    question: String,
    action: &'static str,
    fields: Vec<(String, String)>,
    button: &'static str,
) -> Result<HttpResponse, AppError> {
    html(
        StatusCode::OK,
        &ConfirmPage {
            asset_version: assets::version(),
            csrf_token: session.csrf.clone(),
            question,
            action,
            fields,
            button,
        },
    )
}

async fn refused(state: &AppState, session: &AdminSession, e: AdminError) -> Result<HttpResponse, AppError> {
    match e {
        AdminError::Storage(db) => Err(db.into()),
        other => dashboard(state, session, StatusCode::UNPROCESSABLE_ENTITY, Some(other.to_string())).await,
    }
}

#[post("/admin/tiers/available")]
pub async fn set_available(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = AdminForm::read(&req, payload).await?;
    let session = authorize(&req, &state, &form)?;
    let tier_id = form.get("tier").to_owned();
    let Ok(target) = form.get("available").parse::<i32>() else {
        return refused(&state, &session, AdminError::NotANumber).await;
    };
    if form.get("confirm") != "yes" {
        let figures = figures(&state).await?;
        let Some(f) = figures.iter().find(|f| f.tier.id == tier_id) else {
            return refused(&state, &session, AdminError::UnknownTier).await;
        };
        let t = &f.tier;
        let question = format!(
            "Set {} available seats from {} to {target}? Withheld seats go from {} to {}.",
            t.name,
            t.available,
            t.withheld,
            t.withheld + t.available - target
        );
        let fields = vec![("tier".into(), tier_id), ("available".into(), target.to_string())];
        return confirm_page(&session, question, "/admin/tiers/available", fields, "Yes, set seats");
    }
    let who = actor(&req, &state);
    match state.shop.with_conn(move |c| admin::set_available(c, &tier_id, target, &who, now_millis())).await {
        Ok(entry) => done(&[entry]),
        Err(e) => refused(&state, &session, e).await,
    }
}

async fn figures(state: &AppState) -> Result<Vec<TierFigures>, AppError> {
    Ok(state.shop.with_conn(|c| admin::figures(c).map_err(DbError::from)).await?)
}

/// Logs what an action did (the audit table has it too) and goes back to the dashboard.
fn done(entries: &[AuditEntry]) -> Result<HttpResponse, AppError> {
    for entry in entries {
        log::info!("{} {}: {} -> {}", entry.actor, entry.action, entry.before, entry.after);
    }
    Ok(see_other("/admin"))
}

#[post("/admin/reset")]
pub async fn reset(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = AdminForm::read(&req, payload).await?;
    let session = authorize(&req, &state, &form)?;
    let tier = match form.get("tier") {
        "" | "all" => None,
        id => Some(id.to_owned()),
    };
    if form.get("confirm") != "yes" {
        let figures = figures(&state).await?;
        let chosen: Vec<&TierFigures> =
            figures.iter().filter(|f| tier.as_deref().is_none_or(|id| f.tier.id == id)).collect();
        if chosen.is_empty() {
            return refused(&state, &session, AdminError::UnknownTier).await;
        }
        let names: Vec<&str> = chosen.iter().map(|f| f.tier.name.as_str()).collect();
        let active: i64 = chosen.iter().map(|f| f.confirmed + f.held).sum();
        let question = format!(
            "Reset {}? {active} held or confirmed seat(s) will be voided, withheld seats cleared, and every seat made available again.",
            names.join(", ")
        );
        let fields = vec![("tier".into(), tier.unwrap_or_else(|| "all".into()))];
        return confirm_page(&session, question, "/admin/reset", fields, "Yes, reset");
    }
    let who = actor(&req, &state);
    match state.shop.with_conn(move |c| admin::reset(c, tier.as_deref(), &who, now_millis())).await {
        Ok(entries) => done(&entries),
        Err(e) => refused(&state, &session, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"hunter22", b"hunter22"));
        assert!(!constant_time_eq(b"hunter22", b"hunter23"));
        assert!(!constant_time_eq(b"hunter22", b"hunter2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn sessions_round_trip_and_expire() {
        let s = AdminSession { csrf: "tok".into(), issued_at: now_millis() };
        assert_eq!(AdminSession::decode(&s.encode()).map(|d| d.csrf), Some("tok".into()));
        let old = AdminSession { csrf: "tok".into(), issued_at: now_millis() - SESSION_MILLIS - 1 };
        assert!(AdminSession::decode(&old.encode()).is_none());
        assert!(AdminSession::decode("v0|tok|1").is_none());
    }
}
