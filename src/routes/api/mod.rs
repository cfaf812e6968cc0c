//! The JSON API of the original TechKraft backend (`GET /api/tickets`, `POST /api/bookings`),
//! same paths, field names, statuses and error words, so its React frontend and scripts work
//! unchanged; plus `GET /api/bookings/{reference}`. Errors are always `{"error": "..."}`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use serde_json::{Map, Value, json};

use super::{AppState, media_type, read_body};
use crate::booking::{
    Booking, BookingError, BookingRequest, Buyer, IdempotencyKey, Quantity, Reference, TierId,
};
use crate::clock::iso_millis;
use crate::error::{AppError, chain};
use crate::metrics::BookingOutcome;
use crate::money::whole_dollars;
use crate::views::outcome;

/// An API failure: a status and the original backend's words.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    /// Extra fields for the body (e.g. how many tickets are left).
    extra: Option<Map<String, Value>>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None, extra: None }
    }
}

/// Storage trouble in the API's words; whether it is a 503 or a 500 is decided once, by
/// `AppError::from` (which also logs the cause when the answer is rendered there; here it is
/// logged at once).
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match &e {
            AppError::Unavailable(_) => {
                crate::log_once::warn("api 503", || format!("api 503: {}", chain(&e)));
                let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable");
                err.retry_after = Some(2);
                err
            }
            _ => {
                log::error!("api 500: {}", chain(&e));
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = self.extra.clone().unwrap_or_default();
        body.insert("error".into(), Value::String(self.message.clone()));
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(Value::Object(body))
    }
}

/// The tiers, from the availability snapshot: serialised once per snapshot, `304` while
/// nothing changed.
#[get("/tickets")]
pub async fn tickets(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snapshot = state.shop.availability().await.map_err(AppError::from)?;
    let body = snapshot.json.get_or_init(|| {
        let tiers: Vec<Value> = snapshot
            .tiers
            .iter()
            .map(|t| {
                json!({
                    "id": t.id,
                    "name": t.name,
                    "price": whole_dollars(t.price_cents),
                    "quantity": t.capacity,
                    "available": t.available,
                })
            })
            .collect();
        Value::Array(tiers).to_string().into_bytes()
    });
    Ok(super::revalidated(&req, &snapshot.etag, "application/json", body))
}

/// The booking as `POST /api/bookings` reports it (the original's fields, plus status).
fn booking_json(b: &Booking) -> Value {
    json!({
        "id": b.id,
        "reference": b.reference,
        "ticketTypeId": b.tier_id,
        // Web bookings have no userId (the buyer's name is not an id, and not the API's to show).
        "userId": b.user_id,
        "quantity": b.quantity,
        "status": b.status.as_str(),
        "createdAt": iso_millis(b.created_at),
    })
}

/// Reads `{"ticketTypeId", "quantity", "userId"}` into a request, with the original's checks
/// first (missing fields, non-positive quantity) and stricter type checks after.
fn parse_request(body: &[u8], key: Option<IdempotencyKey>, max: u32) -> Result<BookingRequest, ApiError> {
    let unprocessable = |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let value =
        super::json::parse_strict(body).map_err(|e| unprocessable(&format!("Malformed JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(unprocessable("The body must be a JSON object"));
    };
    let present = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => Some(v),
    };
    let (Some(tier), Some(quantity), Some(user)) =
        (present("ticketTypeId"), present("quantity"), present("userId"))
    else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Missing required fields"));
    };
    let quantity = match quantity {
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
        Value::Number(n) if n.as_u64().is_some() => i64::MAX, // beyond i64: certainly too many
        _ => return Err(unprocessable("Quantity must be a whole number")),
    };
    if quantity <= 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Quantity must be positive"));
    }
    let quantity = Quantity::new(quantity, max)
        .map_err(|_| unprocessable(&format!("Quantity must be at most {max}")))?;
    let Value::String(tier) = tier else {
        return Err(unprocessable("ticketTypeId must be a string"));
    };
    let tier =
        TierId::parse(tier).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "Ticket type not found"))?;
    // A string and nothing else (docs/API.md): `5` is not quietly taken as "5".
    let Value::String(user_id) = user else {
        return Err(unprocessable("userId must be a string"));
    };
    let user_id = user_id.trim().to_owned();
    if user_id.chars().count() > 100 || user_id.chars().any(char::is_control) {
        return Err(unprocessable("userId must be at most 100 characters, without control characters"));
    }
    let user_id = crate::booking::types::visible_text("userId", "userId", &user_id)
        .map_err(|e| unprocessable(&e.message))?;
    Ok(BookingRequest { tier, quantity, buyer: Buyer::Api { user_id }, idempotency_key: key })
}

#[post("/bookings")]
pub async fn create_booking(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The waiting room (SPEC §13), from memory, before the body is read.
    let gate = super::queue::gate(&req, &state);
    if let Some(refused) = super::queue::api_refusal(&gate) {
        return Ok(refused);
    }
    if let Err(seconds) = state.limits.booking(&req) {
        let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        err.retry_after = Some(seconds);
        return Err(err);
    }
    if media_type(&req) != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    let body = read_body(&req, payload).await.map_err(|e| match e {
        AppError::PayloadTooLarge => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body larger than 16 KiB")
        }
        AppError::RequestTimeout => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "The request body took too long")
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, other.message_for_people()),
    })?;
    let key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|k| IdempotencyKey::parse(k).ok()).ok_or_else(|| {
            state.metrics.record_booking(BookingOutcome::Invalid);
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key must be 8 to 100 visible ASCII characters",
            )
        })?),
    };
    let request = parse_request(&body, key, state.settings.max_tickets_per_booking).inspect_err(|e| {
        if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::BAD_REQUEST {
            state.metrics.record_booking(BookingOutcome::Invalid);
        }
    })?;

    match state.shop.book(request).await {
        Ok(booking) => {
            let mut response = HttpResponse::Created().json(json!({
                "success": true,
                "booking": booking_json(&booking),
                "payment": {
                    "transactionId": booking.transaction_id,
                    "amount": whole_dollars(booking.total_cents),
                    "currency": "USD",
                },
                "message": "Booking confirmed! Payment processed successfully.",
            }));
            super::queue::after_booking(&state, gate.admission(), true, &mut response);
            Ok(response)
        }
        Err(e) => Err(match e {
            BookingError::UnknownTier => ApiError::new(StatusCode::NOT_FOUND, "Ticket type not found"),
            BookingError::NotEnoughSeats { available, .. } => {
                let mut err = ApiError::new(StatusCode::CONFLICT, "Not enough tickets available");
                err.extra = Some(Map::from_iter([("available".to_owned(), json!(available.max(0)))]));
                err
            }
            BookingError::PaymentDeclined { reason, .. } => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, format!("Payment failed: {reason}"))
            }
            BookingError::Refunded { reference } => {
                let mut err = ApiError::new(StatusCode::CONFLICT, "Not enough tickets available");
                err.extra = Some(Map::from_iter([
                    ("refunded".to_owned(), json!(true)),
                    ("reference".to_owned(), json!(reference)),
                ]));
                err
            }
            BookingError::Unsettled { reference, status } => {
                ApiError::new(StatusCode::CONFLICT, outcome::unsettled(&reference, status))
            }
            BookingError::KeyReused => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, outcome::KEY_REUSED),
            BookingError::PaymentUnrecorded { reference } => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, outcome::unrecorded(&reference));
                err.extra = Some(Map::from_iter([("reference".to_owned(), json!(reference))]));
                err.retry_after = Some(60);
                err
            }
            BookingError::Storage(db) => AppError::from(db).into(),
            BookingError::Pipeline(e) => AppError::from(e).into(),
        }),
    }
}

#[get("/bookings/{reference}")]
pub async fn show_booking(
    req: HttpRequest,
    state: web::Data<AppState>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if let Err(seconds) = state.limits.lookup(&req) {
        let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        err.retry_after = Some(seconds);
        return Err(err);
    }
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "Booking not found");
    let reference = Reference::parse(&reference).ok_or_else(not_found)?;
    let (b, refund) = state.shop.booking(reference).await.map_err(AppError::from)?.ok_or_else(not_found)?;
    let issued = state.shop.tickets_of(b.id.clone()).await.map_err(AppError::from)?;
    let mut body = booking_json(&b);
    if let Value::Object(fields) = &mut body {
        let codes: Vec<Value> = issued
            .iter()
            .map(|t| json!({"code": t.code, "checkedInAt": t.checked_in_at.map(iso_millis)}))
            .collect();
        fields.insert("tickets".into(), Value::Array(codes));
        fields.insert("unitPrice".into(), Value::Number(whole_dollars(b.unit_price_cents)));
        fields.insert("total".into(), Value::Number(whole_dollars(b.total_cents)));
        fields.insert("currency".into(), json!("USD"));
        fields.insert("transactionId".into(), json!(b.transaction_id));
        if let Some(r) = refund {
            fields.insert(
                "refund".into(),
                json!({
                    "transactionId": r.refund_id,
                    "amount": whole_dollars(r.amount_cents),
                    "currency": "USD",
                    "status": r.status.as_str(),
                }),
            );
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Unknown paths under `/api` answer in JSON too.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "Not found"))
}

#[cfg(test)]
mod tests;
